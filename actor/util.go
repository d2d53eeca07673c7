package actor

import "fmt"

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// nilReply stands for a nil reply on the wire-free local path.
var nilReply = &struct{ nilReply bool }{true}
