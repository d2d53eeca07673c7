package actor

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/asynkron/protoactor-go/remote"
)

// readerStreams returns the engine's table of inbound remoting streams
// (Remote.edpManager.endpointReaderConnections: stream -> its disconnect
// channel), which the engine does not expose, found by reflection and
// checked for names and types; false when the engine's layout differs.
//
// The engine's graceful shutdown sends on every channel of that table, and
// a stream that ends closes its channel before removing it: a stream ending
// during the shutdown panics the process with "send on closed channel".
// Stop closes the inbound connections first (so every stream ends), so it
// empties the table and waits for the streams to finish removing
// themselves before it shuts the engine's remoting down.
func readerStreams(r *remote.Remote) (*sync.Map, bool) {
	if r == nil {
		return nil, false
	}
	mf, ok := reflect.TypeFor[remote.Remote]().FieldByName("edpManager")
	if !ok || mf.Type.Kind() != reflect.Pointer || mf.Type.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	cf, ok := mf.Type.Elem().FieldByName("endpointReaderConnections")
	if !ok || cf.Type != reflect.TypeFor[*sync.Map]() {
		return nil, false
	}
	em := *(*unsafe.Pointer)(unsafe.Add(unsafe.Pointer(r), mf.Offset))
	if em == nil {
		return nil, false
	}
	m := *(**sync.Map)(unsafe.Add(em, cf.Offset))
	return m, m != nil
}

// quiesceReaders empties the engine's inbound stream table and waits, at
// most wait, until no stream adds itself again (see readerStreams).
func quiesceReaders(r *remote.Remote, wait time.Duration) {
	m, ok := readerStreams(r)
	if !ok {
		return
	}
	deadline := time.Now().Add(wait)
	for {
		empty := true
		m.Range(func(k, _ any) bool {
			empty = false
			m.Delete(k)
			return true
		})
		if empty || time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
