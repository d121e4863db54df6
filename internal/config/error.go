package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
)

// Error is a problem with a config file or a config value. Every error of
// this package's Parse, Load and Validate functions is an *Error, except a
// file that cannot be read.
type Error struct {
	File string // file name; "" when validating a config built in code
	Line int    // 1-based line in the file; 0 when not known
	Key  string // the key, e.g. "port" or "blacklist[0].url"; "" for the file as a whole
	Msg  string // what is wrong
}

// Error formats the error as one line, e.g.
// `server.yaml: line 3: key "port": expected an integer, got string "abc"`.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// inFile records the file name in err when it is an *Error.
func inFile(name string, err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		ce.File = name
	}
	return err
}

// keyError reports a problem with a key's value, found by Validate.
func keyError(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// yamlError converts an error of the go-yaml parser: its message already says
// what is wrong; its position gives the line.
func yamlError(err error) *Error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		e := &Error{Msg: ye.GetMessage()}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line = tk.Position.Line
		}
		return e
	}
	return &Error{Msg: err.Error()}
}
