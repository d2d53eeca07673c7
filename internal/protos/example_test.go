package protos_test

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/foundation-go/foundation/internal/protos"
)

func Example() {
	b, _ := proto.Marshal(&protos.Ping{Text: "hello"})
	var p protos.Ping
	_ = proto.Unmarshal(b, &p)
	fmt.Println(p.GetText())
	// Output: hello
}
