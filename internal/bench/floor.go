package bench

import (
	"bytes"

	"github.com/valyala/fasthttp"

	"github.com/rpcmesh/rpcmesh/internal/jsonrpc"
)

// FloorServer answers every request with one fixed JSON-RPC result that
// carries the request's id, decoding nothing else, on the HTTP library of
// the gateway's public listener (fasthttp). What it costs per request is
// the floor of any HTTP front door on the machine: the socket reads and
// writes, the kernel's TCP work and the Go runtime's scheduling of one
// request. A gateway cannot spend less per call and still read and answer
// it, so its CPU per call is best read against this floor.
type FloorServer struct {
	*fastServer
}

// StartFloor listens on addr ("127.0.0.1:0" picks a free port) and serves
// until Close.
func StartFloor(addr string) (*FloorServer, error) {
	s, err := startFast("bench floor", addr, floorHandler)
	if err != nil {
		return nil, err
	}
	return &FloorServer{s}, nil
}

// floorResult is the fixed answer: one ether, as eth_getBalance would say.
const floorResult = `,"result":"0xde0b6b3a7640000"}`

func floorHandler(ctx *fasthttp.RequestCtx) {
	ctx.SetContentType("application/json")
	ctx.Response.AppendBodyString(`{"jsonrpc":"2.0","id":`)
	ctx.Response.AppendBody(floorID(ctx.PostBody()))
	ctx.Response.AppendBodyString(floorResult)
}

var (
	idMember = []byte(`"id":`)
	nullID   = []byte(`null`)
)

// floorID finds the id of a single call by its first "id": member, without
// decoding the body (null when there is none to find).
func floorID(body []byte) []byte {
	i := bytes.Index(body, idMember)
	if i < 0 {
		return nullID
	}
	i += len(idMember)
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	if i >= len(body) {
		return nullID
	}
	e := jsonrpc.PrefixValueEnd(body, i)
	if e < 0 {
		return nullID
	}
	return body[i:e]
}
