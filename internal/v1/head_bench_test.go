package v1

import (
	"bytes"
	"net/http"
	"testing"
)

// benchRequestHead is what a typical proxied GET carries: the headers an
// application and ReverseProxy leave on a request.
var benchRequestHead = RequestHead{
	Method: "GET",
	URL:    "http://api.internal:8081/v1/orders?customer=4711&limit=50",
	Header: http.Header{
		"Accept":            {"application/json"},
		"Accept-Encoding":   {"gzip"},
		"Authorization":     {"Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2lnbmF0dXJl"},
		"User-Agent":        {"orders-client/2.3"},
		"X-Forwarded-For":   {"203.0.113.7"},
		"X-Forwarded-Host":  {"gateway.example.com"},
		"X-Forwarded-Proto": {"https"},
		"X-Request-Id":      {"7f3c9a1e-5b2d-4c8e-9f10-2a6b8d4e1c3f"},
	},
	ContentLength: 0,
}

var benchResponseHead = ResponseHead{
	StatusCode: 200,
	Header: http.Header{
		"Content-Type":   {"application/json; charset=utf-8"},
		"Content-Length": {"1234"},
		"Date":           {"Mon, 01 Jan 2024 00:00:00 GMT"},
		"Cache-Control":  {"no-store"},
		"Vary":           {"Accept-Encoding"},
	},
	ContentLength: 1234,
}

func BenchmarkEncodeRequestHead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRequestHead(benchRequestHead); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequestHead(b *testing.B) {
	msg, err := EncodeRequestHead(benchRequestHead)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequestHead(bytes.NewReader(msg), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponseHead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeResponseHead(benchResponseHead); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeResponseHead(b *testing.B) {
	msg, err := EncodeResponseHead(benchResponseHead)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeResponseHead(bytes.NewReader(msg), 0); err != nil {
			b.Fatal(err)
		}
	}
}
