// A bare Go reverse proxy for `npm run bench proxy`: net/http/httputil.ReverseProxy with its default transport
// settings except a keep-alive pool big enough for the bench's 50 connections. It prints "listening N" once it listens, as the Node targets do.
package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go-proxy UPSTREAM_HOST:PORT")
		os.Exit(2)
	}
	// One OS thread runs Go code, as the Node proxies each have one event loop.
	runtime.GOMAXPROCS(1)
	target, err := url.Parse("http://" + os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("listening %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, proxy); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
