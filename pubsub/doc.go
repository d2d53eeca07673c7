// Package pubsub is cluster-wide publish/subscribe: Phoenix.PubSub's and
// Akka DistributedPubSub's model on a Foundation member.
//
// A node starts one PubSub (foundation.Node.PubSub). Subscribers are
// processes (Subscribe: each message arrives by Tell, with the publisher's
// headers) or handlers (SubscribeFunc: called one message at a time on a
// goroutine of the subscription). A subscription ends with Unsubscribe, when
// its process exits, or when the PubSub stops.
//
//	sub, err := node.PubSub.SubscribeFunc("orders", func(m pubsub.Message) {
//		fmt.Println("order", m.Payload, "request", m.Headers["request-id"])
//	})
//	err = node.PubSub.Publish(ctx, "orders", &pb.Order{Id: "42"})
//
// # Delivery
//
// Publish sends to every subscriber of the topic on every member, PublishLocal
// to this member's only, PublishFrom to every subscriber but the publishing
// process, Direct to one member's. Subscribers in a group (InGroup) share the
// topic: each message reaches one subscriber of each group, cluster-wide
// (round robin over the members with subscribers of the group, then over
// the group's subscribers on that member).
//
// A publish crosses the network once per member that has subscribers,
// whatever their number, on one stream per member over the cluster port
// (authenticated, mutual TLS when configured); the receiving member fans the
// message out locally. Which members have subscribers — the interest — is
// replicated to every member with package crdt (NewInterest: an add-wins set
// per topic), so a publish reads it locally and never waits on the network.
// Interest spreads within the replicator's batch window (a few
// milliseconds): a subscriber that has just subscribed on another member may
// miss the messages published meanwhile. A member that leaves or is removed
// drops out of routing at once; its interest is withdrawn by one member; a
// member downed by the split-brain resolver re-records its interest when it
// comes back.
//
// Delivery is at most once. Each subscriber receives the messages of one
// publisher in the order they were published (one stream per member pair,
// one ordered queue per subscriber). A message is lost, and counted by
// Dropped, when a member's outbound queue or a handler's queue is full
// (Config.QueueLength), when the stream to a member breaks (frames queued
// for it may be lost), or when the receiving member cannot decode it.
// Publish never waits for subscribers and returns an error only when nothing
// was sent: ErrInvalid (an empty topic, a nil message), ErrNoSubscribers
// (no member is known to have a subscriber; safe to ignore),
// ErrNotSerializable (a message for another member that is not a protobuf
// message), ErrTooLarge, ErrClosed, and ErrUnknownMember for Direct.
package pubsub
