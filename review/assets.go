package review

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// asset is one embedded static file.
type asset struct {
	name   string // logical name: "app.css"
	hashed string // "app.3f2a1c9d.css"
	sum    string // "3f2a1c9d"
	body   []byte
	ctype  string
}

// assets are the static files, by logical and by hashed name.
type assets struct {
	byName   map[string]*asset
	byHashed map[string]*asset
}

// loadAssets reads every file under static and names it by its content's
// hash, so a changed file gets a new URL and browsers may cache any URL
// for a year.
func loadAssets(static fs.FS) (*assets, error) {
	a := &assets{byName: map[string]*asset{}, byHashed: map[string]*asset{}}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(p)
		short := hex.EncodeToString(sum[:4])
		hashed := strings.TrimSuffix(p, ext) + "." + short + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = http.DetectContentType(b)
		}
		if strings.HasPrefix(ctype, "text/") && !strings.Contains(ctype, "charset") {
			ctype += "; charset=utf-8"
		}
		f := &asset{name: p, hashed: hashed, sum: short, body: b, ctype: ctype}
		a.byName[p], a.byHashed[hashed] = f, f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading static assets: %w", err)
	}
	return a, nil
}

// assetURL is the hashed URL of a static file; an unknown name is a
// template error, so a typo fails at render, not in the browser.
func (s *Server) assetURL(name string) (string, error) {
	f, ok := s.assets.byName[name]
	if !ok {
		return "", fmt.Errorf("no static asset %q in review/static", name)
	}
	return "/static/" + f.hashed, nil
}

// handleStatic serves a static file. Hashed names are immutable and cached
// for a year; a file asked for by its plain name (a vendored library's
// LICENSE, say) must be revalidated.
func (s *Server) handleStatic(w http.ResponseWriter, r *http.Request) {
	p := strings.TrimPrefix(r.URL.Path, "/static/")
	f, hashed := s.assets.byHashed[p]
	if !hashed {
		f = s.assets.byName[p]
	}
	if f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	if hashed {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", `"`+f.sum+`"`)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}
