// goroutines: what a Go service does at start-up and under load, with output that is the same
// on every run: 16 goroutines hashing, channels, runtime.GC, time.Sleep, files in a temporary
// directory, and a goroutine spinning without calls that the runtime must preempt (with
// SIGURG through tgkill) for the others to finish when GOMAXPROCS is small.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func hash(seed int) string {
	buf := make([]byte, 256*1024)
	for i := range buf {
		buf[i] = byte(i*seed + seed)
	}
	sum := sha256.Sum256(buf)
	for round := 0; round < 8; round++ {
		sum = sha256.Sum256(append(sum[:], buf[:4096]...))
	}
	return hex.EncodeToString(sum[:8])
}

func main() {
	runtime.GOMAXPROCS(2)
	var stop atomic.Bool
	spinDone := make(chan uint64)
	go func() {
		var n uint64
		for !stop.Load() {
			n++
		}
		spinDone <- n
	}()

	results := make(chan string, 16)
	var wg sync.WaitGroup
	for g := 1; g <= 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			results <- fmt.Sprintf("%02d:%s", g, hash(g))
		}(g)
	}
	wg.Wait()
	close(results)
	var all []string
	for r := range results {
		all = append(all, r)
	}
	sort.Strings(all)
	fmt.Println("hashes:", all[0], all[7], all[15], "count", len(all))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("gc ran:", ms.NumGC > 0)

	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	fmt.Println("slept at least 20ms:", time.Since(start) >= 20*time.Millisecond)

	dir, err := os.MkdirTemp("", "goroutines")
	if err != nil {
		fmt.Println("mkdirtemp:", err)
		os.Exit(1)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "data")
	if err := os.WriteFile(path, []byte("written by go\n"), 0o600); err != nil {
		fmt.Println("write:", err)
		os.Exit(1)
	}
	data, err := os.ReadFile(path)
	fmt.Printf("read back %q err %v\n", data, err)

	ticker := time.NewTicker(2 * time.Millisecond)
	ticks := 0
	for range ticker.C {
		ticks++
		if ticks == 5 {
			break
		}
	}
	ticker.Stop()
	fmt.Println("ticks:", ticks)

	stop.Store(true)
	fmt.Println("spinning goroutine stopped:", <-spinDone > 0)
}
