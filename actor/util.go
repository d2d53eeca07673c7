package actor

import "fmt"

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// nilReply stands for a nil reply on the wire-free local path.
var nilReply = &struct{ nilReply bool }{true}

// PIDString formats a PID as "address/id", for logs and errors.
func PIDString(pid *PID) string {
	if pid == nil {
		return "<nil>"
	}
	return pid.Address + "/" + pid.Id
}
