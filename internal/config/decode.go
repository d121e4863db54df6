package config

import (
	"fmt"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/wsp-tunnel/wsp/internal/rules"
)

// The decoder walks the syntax tree of go-yaml's parser rather than using
// reflection, so that it can tell an absent key from a zero value, reject
// unknown keys with their line, and name the exact key of every bad value.

// field is a known key and the function that stores its value.
type field struct {
	key string
	set setter
}

// setter stores the value n (never null) of the key named path.
type setter func(n ast.Node, path string) error

// decodeFile decodes data over the values the fields point to.
func decodeFile(name string, data []byte, fields []field) error {
	root, err := parseRoot(data)
	if err == nil && root != nil {
		err = decodeMapping(root, "", fields)
	}
	if err != nil {
		return inFile(name, err)
	}
	return nil
}

// parseRoot parses data and returns its top-level mapping, or nil for a file
// that is empty, holds only comments, or is null.
func parseRoot(data []byte) (ast.Node, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(err)
	}
	var root ast.Node
	for _, doc := range f.Docs {
		body := doc.Body
		if body == nil || body.Type() == ast.NullType {
			continue
		}
		if root != nil {
			return nil, &Error{Line: line(body), Msg: "more than one YAML document"}
		}
		root = body
	}
	if root != nil && !isMapping(root) {
		return nil, &Error{Line: line(root), Msg: "expected a mapping of keys to values, got " + describe(root)}
	}
	return root, nil
}

// decodeMapping decodes a mapping whose keys must all be in fields. path is
// the key of the mapping itself ("" at the top).
func decodeMapping(n ast.Node, path string, fields []field) error {
	for _, kv := range entries(n) {
		name, err := keyName(kv.Key, path)
		if err != nil {
			return err
		}
		f, ok := lookup(fields, name)
		if !ok {
			return unknownKey(kv.Key, path, name, fields)
		}
		key := join(path, name)
		v, err := plain(kv.Value, key)
		if err != nil {
			return err
		}
		if v == nil { // null: as if absent
			continue
		}
		if err := f.set(v, key); err != nil {
			return err
		}
	}
	return nil
}

func lookup(fields []field, name string) (field, bool) {
	for _, f := range fields {
		if f.key == name {
			return f, true
		}
	}
	return field{}, false
}

func unknownKey(k ast.Node, path, name string, fields []field) error {
	msg := fmt.Sprintf("unknown key %q", name)
	if f, ok := lookup(fields, strings.ToLower(name)); ok {
		msg += fmt.Sprintf(" (keys are lower-case: %q)", f.key)
	}
	return &Error{Line: line(k), Key: path, Msg: msg}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func isMapping(n ast.Node) bool {
	t := n.Type()
	return t == ast.MappingType || t == ast.MappingValueType
}

func entries(n ast.Node) []*ast.MappingValueNode {
	switch n := n.(type) {
	case *ast.MappingNode:
		return n.Values
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{n}
	}
	return nil
}

// keyName returns the text of a plain scalar key.
func keyName(k ast.MapKeyNode, path string) (string, error) {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok { // "? key"
		n = mk.Value
	}
	if k.IsMergeKey() {
		return "", &Error{Line: line(k), Key: path, Msg: "merge keys (<<) are not supported"}
	}
	if s, ok := scalarText(n); ok {
		return s, nil
	}
	return "", &Error{Line: line(k), Key: path, Msg: "expected a key, got " + describe(n)}
}

// plain returns n, or nil when n is null; it rejects the YAML features a
// config file has no use for.
func plain(n ast.Node, key string) (ast.Node, error) {
	if n == nil {
		return nil, nil
	}
	switch n.Type() {
	case ast.NullType:
		return nil, nil
	case ast.AnchorType, ast.AliasType:
		return nil, &Error{Line: line(n), Key: key, Msg: "anchors and aliases are not supported"}
	case ast.TagType:
		return nil, &Error{Line: line(n), Key: key, Msg: "tags are not supported"}
	}
	return n, nil
}

// scalarText returns the text of a scalar: the value of a string, the
// source text of a number or boolean.
func scalarText(n ast.Node) (string, bool) {
	switch n := n.(type) {
	case *ast.StringNode:
		return n.Value, true
	case *ast.LiteralNode:
		if n.Value == nil {
			return "", true
		}
		return n.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

// setStrings decodes a list of strings.
func setStrings(p *[]string) setter {
	return func(n ast.Node, key string) error {
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			return typeError(n, key, "a list")
		}
		out := make([]string, 0, len(seq.Values))
		for i, item := range seq.Values {
			var s string
			if err := setItem(item, fmt.Sprintf("%s[%d]", key, i), setString(&s)); err != nil {
				return err
			}
			out = append(out, s)
		}
		*p = out
		return nil
	}
}

// setRules decodes a blacklist or whitelist.
func setRules(p *[]rules.Rule) setter {
	return func(n ast.Node, key string) error {
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			return typeError(n, key, "a list of rules")
		}
		out := make([]rules.Rule, 0, len(seq.Values))
		for i, item := range seq.Values {
			var r rules.Rule
			if err := setItem(item, fmt.Sprintf("%s[%d]", key, i), setRule(&r)); err != nil {
				return err
			}
			out = append(out, r)
		}
		*p = out
		return nil
	}
}

// setItem decodes one list item; unlike a key's value, it must not be null.
func setItem(item ast.Node, key string, set setter) error {
	v, err := plain(item, key)
	if err != nil {
		return err
	}
	if v == nil {
		return &Error{Line: line(item), Key: key, Msg: "must not be null"}
	}
	return set(v, key)
}

func setRule(r *rules.Rule) setter {
	return func(n ast.Node, key string) error {
		if !isMapping(n) {
			return typeError(n, key, "a rule (a mapping with method, url, headers)")
		}
		return decodeMapping(n, key, []field{
			{"method", setString(&r.Method)},
			{"url", setString(&r.URL)},
			{"headers", setHeaders(&r.Headers)},
		})
	}
}

// setHeaders decodes a mapping of header names to regular expressions; a
// null expression is the empty one.
func setHeaders(p *map[string]string) setter {
	return func(n ast.Node, key string) error {
		if !isMapping(n) {
			return typeError(n, key, "a mapping of header names to regular expressions")
		}
		m := make(map[string]string)
		for _, kv := range entries(n) {
			name, err := keyName(kv.Key, key)
			if err != nil {
				return err
			}
			var expr string
			v, err := plain(kv.Value, join(key, name))
			if err == nil && v != nil {
				err = setString(&expr)(v, join(key, name))
			}
			if err != nil {
				return err
			}
			m[name] = expr
		}
		*p = m
		return nil
	}
}
