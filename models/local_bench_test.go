package models

import (
	"context"
	"testing"
)

// benchTexts mixes the lengths and kinds of text the triage pipeline embeds.
func benchTexts() []string {
	return []string{
		"Payment declined for order 732201349959: card_declined (do_not_honor), amount $129.90",
		"Stockout at release: SKU-1234 short by 3 units at DC-07, 2024-05-01 12:30:00",
		"Carrier delay: shipment 1Z999AA10123456784 missed its 14:00 cut-off, ETA moved to 05/03/2024",
		"i need help to cancel purchase 113542617735902",
		"ERP posting rejected: E1234 invalid cost centre for invoice INV-55821 (12,50 EUR)",
		"address validation failed",
	}
}

func BenchmarkLocalEmbed(b *testing.B) {
	e := NewLocalEmbedder(0)
	ctx := context.Background()
	texts := benchTexts()
	var bytes int64
	for _, t := range texts {
		bytes += int64(len(t))
	}
	b.SetBytes(bytes / int64(len(texts)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := e.Embed(ctx, texts[i%len(texts):i%len(texts)+1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLocalEmbedBatch(b *testing.B) {
	e := NewLocalEmbedder(0)
	ctx := context.Background()
	texts := make([]string, 0, 600)
	for len(texts) < cap(texts) {
		texts = append(texts, benchTexts()...)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(texts)), "ns/text")
}

func BenchmarkMask(b *testing.B) {
	texts := benchTexts()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = Mask(texts[i%len(texts)])
	}
}

func BenchmarkIndexSearch(b *testing.B) {
	e := NewLocalEmbedder(0)
	ix := NewIndex(e.Dim())
	texts := make([]string, 0, 5000)
	base := benchTexts()
	for i := 0; len(texts) < cap(texts); i++ {
		texts = append(texts, base[i%len(base)]+" variant "+string(rune('a'+i%26))+string(rune('a'+i/26%26)))
	}
	vecs, err := e.Embed(context.Background(), texts)
	if err != nil {
		b.Fatal(err)
	}
	for i, v := range vecs {
		if err := ix.Add(texts[i], v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = ix.Search(vecs[i%len(vecs)], 10)
	}
}
