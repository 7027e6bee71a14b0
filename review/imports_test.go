package review_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportDirection holds DESIGN.md's arrow review → triage →
// orchestration: no package below review imports it.
func TestImportDirection(t *testing.T) {
	for _, root := range []string{"../triage", "../orchestration", "../rules", "../models", "../internal"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			pkg, err := build.ImportDir(p, 0)
			if err != nil {
				return nil // no Go files here
			}
			for _, imp := range append(append(pkg.Imports, pkg.TestImports...), pkg.XTestImports...) {
				if imp == "github.com/omnitriage/omnitriage/review" || strings.HasPrefix(imp, "github.com/omnitriage/omnitriage/review/") {
					t.Errorf("%s imports %s; review may import it, never the reverse", p, imp)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
