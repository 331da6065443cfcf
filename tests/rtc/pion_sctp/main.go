// pion_sctp: a pion/sctp association over UDP loopback, the peer of
// tests/rtc/test_pion_sctp.c. Usage: pion_sctp client|server <c-port> <loss-pct>
// Prints "PORT <n>" (its UDP port), then "UP" once associated. It echoes
// every message on every stream the C side opens, closes its side of a
// stream the C side resets, and sends on stream 101: 20 strings then one
// 100000-byte binary message. It exits when its stdin closes.
package main

import (
	"bufio"
	"fmt"
	"math/rand"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/pion/logging"
	"github.com/pion/sctp"
)

// lossyConn drops a share of what pion writes.
type lossyConn struct {
	net.Conn
	pct int
	rng *rand.Rand
}

func (c *lossyConn) Write(b []byte) (int, error) {
	if c.pct > 0 && c.rng.Intn(100) < c.pct {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func echo(s *sctp.Stream) {
	buf := make([]byte, 1<<20)
	for {
		n, ppi, err := s.ReadSCTP(buf)
		if err != nil {
			_ = s.Close() // reset our side too, as a data channel does
			return
		}
		if _, err := s.WriteSCTP(buf[:n], ppi); err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: pion_sctp client|server <c-port> <loss-pct>")
		os.Exit(2)
	}
	port, _ := strconv.Atoi(os.Args[2])
	loss, _ := strconv.Atoi(os.Args[3])
	conn, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", conn.LocalAddr().(*net.UDPAddr).Port)
	go func() { // the test closes our stdin when done
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}()
	cfg := sctp.Config{
		NetConn:              &lossyConn{Conn: conn, pct: loss, rng: rand.New(rand.NewSource(7))},
		LoggerFactory:        logging.NewDefaultLoggerFactory(),
		MaxReceiveBufferSize: 1024 * 1024,
		MaxMessageSize:       256 * 1024,
	}
	var a *sctp.Association
	if os.Args[1] == "client" {
		a, err = sctp.Client(cfg)
	} else {
		a, err = sctp.Server(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "association:", err)
		os.Exit(1)
	}
	fmt.Println("UP")
	go func() {
		for {
			s, err := a.AcceptStream()
			if err != nil {
				return
			}
			go echo(s)
		}
	}()
	s, err := a.OpenStream(101, sctp.PayloadTypeWebRTCString)
	if err == nil {
		for i := 0; i < 20; i++ {
			_, _ = s.WriteSCTP([]byte(fmt.Sprintf("pion-%d", i)), sctp.PayloadTypeWebRTCString)
		}
		big := make([]byte, 100000)
		for i := range big {
			big[i] = byte(i * 7)
		}
		_, _ = s.WriteSCTP(big, sctp.PayloadTypeWebRTCBinary)
	}
	time.Sleep(120 * time.Second)
}
