// A net/http server and client in one static Go program, over 127.0.0.1 at a port the kernel
// picks: GET of a handler's answer, a POST echoed back with its length, a 404, keep-alive
// reuse of one connection, and concurrent requests from several goroutines. Go's network poller
// waits for the sockets with epoll (NetworkProgramsTest checks the trace). Its output does not
// depend on the port, the time or scheduling, so it is compared with the native run.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sort"
	"strings"
	"sync"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %s", r.Method, len(body), strings.ToUpper(string(body)))
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	base := "http://" + ln.Addr().String()
	client := &http.Client{}

	get := func(path string) {
		resp, err := client.Get(base + path)
		if err != nil {
			fmt.Println("GET", path, "error:", err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("GET %s: %d %q\n", path, resp.StatusCode, body)
	}
	get("/hello?name=vkernel")
	get("/missing")

	resp, err := client.Post(base+"/echo", "text/plain", strings.NewReader("posted body"))
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("POST /echo: %d %q\n", resp.StatusCode, body)
	} else {
		fmt.Println("POST error:", err)
	}

	// Keep-alive: the next request reuses the idle connection.
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequest("GET", base+"/hello?name=again", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	if resp, err := client.Do(req); err == nil {
		io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println("keep-alive connection reused:", reused)
	}

	// Eight goroutines, four requests each, at the same time.
	var mu sync.Mutex
	var wg sync.WaitGroup
	var got []string
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				r, err := client.Get(fmt.Sprintf("%s/hello?name=g%d-%d", base, g, i))
				if err != nil {
					mu.Lock()
					got = append(got, "error: "+err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(r.Body)
				r.Body.Close()
				mu.Lock()
				got = append(got, string(b))
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	sort.Strings(got)
	fmt.Printf("concurrent: %d answers, first %q, last %q\n", len(got), got[0], got[len(got)-1])
	srv.Close()
	fmt.Println("server closed")
}
