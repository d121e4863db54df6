package config

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// Scalar values: the setters of the string, boolean, integer and duration
// keys, and the wording of type errors.

func setString(p *string) setter {
	return func(n ast.Node, key string) error {
		s, ok := scalarText(n)
		if !ok {
			return typeError(n, key, "a string")
		}
		*p = s
		return nil
	}
}

func setBool(p *bool) setter {
	return func(n ast.Node, key string) error {
		b, ok := n.(*ast.BoolNode)
		if !ok {
			return typeError(n, key, "true or false")
		}
		*p = b.Value
		return nil
	}
}

func setInt(p *int) setter {
	return func(n ast.Node, key string) error {
		i, err := integer(n, key, "an integer")
		if err != nil {
			return err
		}
		if i < math.MinInt || i > math.MaxInt {
			return &Error{Line: line(n), Key: key, Msg: "integer out of range"}
		}
		*p = int(i)
		return nil
	}
}

func setMillis(p *time.Duration) setter {
	const limit = math.MaxInt64 / int64(time.Millisecond)
	return func(n ast.Node, key string) error {
		ms, err := integer(n, key, "an integer (milliseconds)")
		if err != nil {
			return err
		}
		if ms > limit || ms < -limit {
			return &Error{Line: line(n), Key: key, Msg: "duration out of range"}
		}
		*p = time.Duration(ms) * time.Millisecond
		return nil
	}
}

// integer decodes a decimal integer. YAML's hexadecimal, octal, binary and
// underscore forms are refused: "0100" would be 64 to one YAML reader and
// 100 to another.
func integer(n ast.Node, key, want string) (int64, error) {
	text := n.GetToken().Value
	digits := strings.TrimLeft(text, "+-")
	if isHugeInteger(n, digits) {
		return 0, &Error{Line: line(n), Key: key, Msg: "integer out of range: " + cut(text)}
	}
	if n.Type() != ast.IntegerType {
		return 0, typeError(n, key, want)
	}
	if len(text)-len(digits) > 1 || !isDecimal(digits) {
		return 0, &Error{Line: line(n), Key: key, Msg: "expected a decimal integer without leading zeros, got " + cut(text)}
	}
	i, err := strconv.ParseInt(strings.TrimPrefix(text, "+"), 10, 64)
	if err != nil {
		return 0, &Error{Line: line(n), Key: key, Msg: "integer out of range: " + cut(text)}
	}
	return i, nil
}

// isHugeInteger reports whether n is a plain (unquoted) string of digits:
// the parser makes a string of an integer too large for 64 bits.
func isHugeInteger(n ast.Node, digits string) bool {
	return n.Type() == ast.StringType && n.GetToken().Type == token.StringType && isDecimal(digits)
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func typeError(n ast.Node, key, want string) error {
	return &Error{Line: line(n), Key: key, Msg: "expected " + want + ", got " + describe(n)}
}

// describe names the kind and value of a node for error messages.
func describe(n ast.Node) string {
	if n == nil {
		return "nothing"
	}
	switch n.Type() {
	case ast.StringType, ast.LiteralType:
		s, _ := scalarText(n)
		return "string " + quoteShort(s)
	case ast.IntegerType:
		return "integer " + cut(n.GetToken().Value)
	case ast.FloatType, ast.InfinityType, ast.NanType:
		return "number " + cut(n.GetToken().Value)
	case ast.BoolType:
		return "boolean " + n.GetToken().Value
	case ast.NullType:
		return "null"
	case ast.SequenceType:
		return "a list"
	case ast.MappingType, ast.MappingValueType:
		return "a mapping"
	}
	return n.Type().YAMLName()
}

// maxShown bounds how much of a value an error message shows.
const maxShown = 64

// quoteShort quotes s, cut to a length that fits an error line.
func quoteShort(s string) string {
	if len(s) > maxShown {
		return strconv.Quote(s[:maxShown]) + "..."
	}
	return strconv.Quote(s)
}

// cut shortens s to a length that fits an error line.
func cut(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "..."
	}
	return s
}

func line(n ast.Node) int {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}
