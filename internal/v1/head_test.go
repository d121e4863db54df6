package v1

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeRequestHead(t *testing.T) {
	tests := []struct {
		name string
		head RequestHead
		want string
	}{
		{"nil header is an empty object", RequestHead{Method: "GET", URL: "http://a/"},
			`{"Method":"GET","URL":"http://a/","Header":{},"ContentLength":0}`},
		{"keys sorted, values arrays", RequestHead{Method: "POST", URL: "http://a/x", ContentLength: -1,
			Header: http.Header{"X-Multi": {"v1", "v2"}, "Accept": {"*/*"}}},
			`{"Method":"POST","URL":"http://a/x","Header":{"Accept":["*/*"],"X-Multi":["v1","v2"]},"ContentLength":-1}`},
		{"HTML characters escaped as the legacy json.Marshal did", RequestHead{Method: "GET", URL: "http://a/?x=1&y=<2>"},
			`{"Method":"GET","URL":"http://a/?x=1\u0026y=\u003c2\u003e","Header":{},"ContentLength":0}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeRequestHead(tt.head)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEncodeResponseHead(t *testing.T) {
	got, err := EncodeResponseHead(ResponseHead{StatusCode: 527, ContentLength: 96})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"StatusCode":527,"Header":{},"ContentLength":96}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestEncodeRejectsInvalidHeads(t *testing.T) {
	reqs := []RequestHead{
		{Method: "", URL: "http://a/"},
		{Method: "G T", URL: "http://a/"},
		{Method: "GET", URL: ""},
		{Method: "GET", URL: "http://a/", ContentLength: -2},
		{Method: "GET", URL: "http://a/", Header: http.Header{"Bad Name": {"x"}}},
		{Method: "GET", URL: "http://a/", Header: http.Header{"X": {"a\r\nInjected: 1"}}},
	}
	for _, h := range reqs {
		if _, err := EncodeRequestHead(h); err == nil {
			t.Errorf("EncodeRequestHead(%+v) succeeded", h)
		}
	}
	resps := []ResponseHead{{StatusCode: 99}, {StatusCode: 1000}, {StatusCode: 200, ContentLength: -5}}
	for _, h := range resps {
		if _, err := EncodeResponseHead(h); err == nil {
			t.Errorf("EncodeResponseHead(%+v) succeeded", h)
		}
	}
}

func TestDecodeRequestHead(t *testing.T) {
	tests := []struct {
		name, in string
		want     RequestHead
		wantErr  string
	}{
		{name: "legacy", in: `{"Method":"GET","URL":"http://a/","Header":{"A":["1"]},"ContentLength":0}`,
			want: RequestHead{Method: "GET", URL: "http://a/", Header: http.Header{"A": {"1"}}}},
		{name: "field names are case-insensitive, as for json.Unmarshal", in: `{"method":"PUT","url":"http://a/","contentlength":-1}`,
			want: RequestHead{Method: "PUT", URL: "http://a/", Header: http.Header{}, ContentLength: -1}},
		{name: "not JSON", in: "this is not json", wantErr: "invalid character 'h' in literal true (expecting 'r')"},
		{name: "empty", in: "", wantErr: "unexpected end of JSON input"},
		{name: "trailing data", in: `{"Method":"GET","URL":"u"} x`, wantErr: "invalid character 'x' after top-level value"},
		{name: "bad method", in: `{"Method":"G(T","URL":"u"}`, wantErr: "invalid method"},
		{name: "null head", in: `null`, wantErr: "invalid method"},
		{name: "empty URL", in: `{"Method":"GET"}`, wantErr: "empty URL"},
		{name: "ContentLength below -1", in: `{"Method":"GET","URL":"u","ContentLength":-2}`, wantErr: "invalid ContentLength"},
		{name: "header value with CRLF", in: `{"Method":"GET","URL":"u","Header":{"A":["x\r\ny"]}}`, wantErr: "invalid value"},
		{name: "wrong type", in: `{"Method":1}`, wantErr: "cannot unmarshal number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRequestHead(strings.NewReader(tt.in), 0)
			if tt.wantErr != "" {
				var he *HeadError
				if !errors.As(err, &he) || !strings.Contains(he.Err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a HeadError containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeResponseHead(t *testing.T) {
	tests := []struct {
		in      string
		wantErr bool
	}{
		{`{"StatusCode":200,"Header":{},"ContentLength":12}`, false},
		{`{"StatusCode":999,"Header":null,"ContentLength":-1}`, false},
		{`{"StatusCode":99}`, true},
		{`{"StatusCode":1000}`, true},
		{`{"StatusCode":200,"ContentLength":-2}`, true},
		{`{"StatusCode":"200"}`, true},
		{`{"StatusCode":200,"Header":{"Bad:Name":["x"]}}`, true},
	}
	for _, tt := range tests {
		_, err := DecodeResponseHead(strings.NewReader(tt.in), 0)
		if (err != nil) != tt.wantErr {
			t.Errorf("DecodeResponseHead(%s): err = %v, wantErr %v", tt.in, err, tt.wantErr)
		}
	}
}

// countingReader counts how many bytes were read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestDecodeHeadSizeCap(t *testing.T) {
	big := `{"Method":"GET","URL":"http://a/","Header":{"A":["` + strings.Repeat("x", 5000) + `"]}}`
	if _, err := DecodeRequestHead(strings.NewReader(big), 0); err != nil {
		t.Fatalf("default cap: %v", err)
	}
	cr := &countingReader{r: io.MultiReader(strings.NewReader(big), neverEnding('x'))}
	_, err := DecodeRequestHead(cr, 1000)
	if !errors.Is(err, ErrHeadTooLarge) {
		t.Fatalf("err = %v, want ErrHeadTooLarge", err)
	}
	if cr.n > 1001+int64(bytes.MinRead) {
		t.Errorf("read %d bytes of an endless head, want about the cap", cr.n)
	}
	_, err = DecodeResponseHead(io.LimitReader(neverEnding(' '), 2<<20), 0)
	if !errors.Is(err, ErrHeadTooLarge) {
		t.Fatalf("default cap: err = %v, want ErrHeadTooLarge", err)
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestGoldenHeads checks every head of every recording: our decoder accepts
// it and our encoder gives back the same bytes. Placeholders are replaced
// by concrete values first (an encoder escapes '<' and '>').
func TestGoldenHeads(t *testing.T) {
	var reqs, resps int
	for _, name := range recordingNames(t) {
		for i, e := range loadRecording(t, name) {
			if e.Kind != "ws-text" && e.Kind != "ws-binary" {
				continue
			}
			p := []byte(fill(string(e.payload(t)), nil))
			switch {
			case !bytes.HasPrefix(p, []byte("{")):
				continue // a body, a greeting, or the "not JSON" head
			case bytes.HasPrefix(p, []byte(`{"Method"`)):
				checkRequestRoundTrip(t, name, i, p)
				reqs++
			case bytes.HasPrefix(p, []byte(`{"StatusCode"`)):
				checkResponseRoundTrip(t, name, i, p)
				resps++
			}
		}
	}
	if reqs < 15 || resps < 15 {
		t.Errorf("only %d request and %d response heads found", reqs, resps)
	}
}

func checkRequestRoundTrip(t *testing.T, name string, line int, p []byte) {
	h, err := DecodeRequestHead(bytes.NewReader(p), 0)
	if err != nil {
		t.Errorf("%s:%d: decode: %v", name, line+1, err)
		return
	}
	got, err := EncodeRequestHead(h)
	if err != nil || !bytes.Equal(got, p) {
		t.Errorf("%s:%d: encode gave %s (%v)\nrecorded        %s", name, line+1, got, err, p)
	}
}

func checkResponseRoundTrip(t *testing.T, name string, line int, p []byte) {
	h, err := DecodeResponseHead(bytes.NewReader(p), 0)
	if err != nil {
		t.Errorf("%s:%d: decode: %v", name, line+1, err)
		return
	}
	got, err := EncodeResponseHead(h)
	if err != nil || !bytes.Equal(got, p) {
		t.Errorf("%s:%d: encode gave %s (%v)\nrecorded        %s", name, line+1, got, err, p)
	}
}

// TestGoldenBadJSONText checks that our decoder reports the same JSON error
// text the legacy agent put in its 527 answer.
func TestGoldenBadJSONText(t *testing.T) {
	rec := loadRecording(t, "agent-bad-json")
	in := rec[0].payload(t)
	_, err := DecodeRequestHead(bytes.NewReader(in), 0)
	var he *HeadError
	if !errors.As(err, &he) {
		t.Fatalf("err = %v, want HeadError", err)
	}
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Errorf("cause %T is not a *json.SyntaxError", he.Err)
	}
	want := string(rec[2].payload(t))
	if got := "Unable to deserialize json http request : " + he.Err.Error() + "\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
