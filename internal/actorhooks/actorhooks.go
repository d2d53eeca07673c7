// Package actorhooks lets the test kit actor/actortest build values of
// package actor that applications only ever receive from the runtime (a
// call's ReplyTo, a monitor's MonitorRef), without those constructors being
// part of actor's public API. Package actor sets the hooks when it is
// initialised.
package actorhooks

import pactor "github.com/asynkron/protoactor-go/actor"

var (
	// NewReplyTo returns an actor.ReplyTo for a caller at pid.
	NewReplyTo func(pid *pactor.PID) any
	// NewMonitorRef returns an actor.MonitorRef.
	NewMonitorRef func(id uint64, watcher, target *pactor.PID) any
)
