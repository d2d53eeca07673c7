package cache

import (
	"encoding/json"
	"fmt"
)

// Codec turns keys into the strings the cache stores them under and values
// into bytes. It is called on the caller's goroutine and must be safe for
// concurrent use. Key must be injective (two keys, two strings).
//
// Incr treats a value's encoding as a decimal integer: use it with the
// JSON codec of an integer type, or with Strings.
type Codec[K comparable, V any] interface {
	Key(K) (string, error)
	Encode(V) ([]byte, error)
	Decode([]byte) (V, error)
}

// JSON is a codec for any keys and values with encoding/json. A string key
// is used as it is; other keys are their JSON encoding.
func JSON[K comparable, V any]() Codec[K, V] { return jsonCodec[K, V]{} }

type jsonCodec[K comparable, V any] struct{}

func (jsonCodec[K, V]) Key(k K) (string, error) {
	if s, ok := any(k).(string); ok {
		return s, nil
	}
	b, err := json.Marshal(k)
	return string(b), err
}
func (jsonCodec[K, V]) Encode(v V) ([]byte, error) { return json.Marshal(v) }
func (jsonCodec[K, V]) Decode(b []byte) (V, error) {
	var v V
	err := json.Unmarshal(b, &v)
	return v, err
}

// Bytes is the codec of string keys and []byte values, stored as they are
// (a stored slice must not be modified by the caller afterwards).
func Bytes() Codec[string, []byte] { return bytesCodec{} }

type bytesCodec struct{}

func (bytesCodec) Key(k string) (string, error)    { return k, nil }
func (bytesCodec) Encode(v []byte) ([]byte, error) { return v, nil }
func (bytesCodec) Decode(b []byte) ([]byte, error) { return b, nil }

// Strings is the codec of string keys and string values.
func Strings() Codec[string, string] { return stringsCodec{} }

type stringsCodec struct{}

func (stringsCodec) Key(k string) (string, error)    { return k, nil }
func (stringsCodec) Encode(v string) ([]byte, error) { return []byte(v), nil }
func (stringsCodec) Decode(b []byte) (string, error) { return string(b), nil }

func codecErr(what string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrCodec, what, err)
}
