package web

import "testing"

func TestCanonical(t *testing.T) {
	same := [][]string{
		{`{"a":1,"b":[true,null,"x"]}`, ` { "b" : [ true , null , "\u0078" ] , "a" : 1.0 } `, `{"b":[true,null,"x"],"a":1e0}`},
		{`{"n":0.5}`, `{"n":5e-1}`, `{"n":0.50}`},
		{`{"big":12345678901234567890}`, `{"big":1.2345678901234567890e19}`},
		{`{"s":"é/"}`, `{"s":"\u00e9\/"}`},
	}
	for _, group := range same {
		want := string(Canonical([]byte(group[0])))
		for _, body := range group[1:] {
			if got := string(Canonical([]byte(body))); got != want {
				t.Errorf("Canonical(%s) = %s, want %s (as for %s)", body, got, want, group[0])
			}
		}
	}
	differ := [][2]string{
		{`{"a":1}`, `{"a":"1"}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
		{`{"a":12345678901234567890}`, `{"a":12345678901234567891}`},
		{`{"a":1e999}`, `{"a":1e998}`},
		{`{"a":null}`, `{}`},
	}
	for _, d := range differ {
		if string(Canonical([]byte(d[0]))) == string(Canonical([]byte(d[1]))) {
			t.Errorf("Canonical(%s) = Canonical(%s), want them different", d[0], d[1])
		}
	}
}
