package org.vmspace.it;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Servers and clients over sockets, each checked against its native run or across the vkernel's
 * boundary (issue 15's acceptance), under the default {@code --net=loopback}:
 * <ul>
 *   <li>{@code scripts/network.sh} in one run of the dynamic /bin/bash, compared with its native
 *       run: python3's {@code http.server} on 127.0.0.1 with busybox {@code wget} fetching from
 *       it, busybox {@code nc} listening and connecting over TCP, and netcat-openbsd listening and
 *       connecting over a UNIX socket (Debian's busybox {@code nc} has no UNIX sockets).
 *   <li>Across the boundary, in one run: python3's {@code http.server} inside, fetched by this
 *       JVM's {@link HttpClient}; busybox {@code wget} inside, fetching from this JVM's {@link
 *       HttpServer}.
 *   <li>A static Go {@code net/http} server and client pair (src/test/go/nethttp.go), compared
 *       with its native run, whose trace shows the Go network poller waiting with epoll.
 * </ul>
 */
@Tag("kvm")
class NetworkProgramsTest {
  /** python3 starts slowly under emulation, and the script starts it once, bash twice more. */
  private static final Duration SCRIPT_LIMIT = Duration.ofMinutes(6);
  /** The longest wait for the next line of a run the test talks to (python3 starts slowly). */
  private static final Duration STEP_LIMIT = Duration.ofMinutes(4);

  @BeforeAll
  static void setUp() throws Exception {
    Guests.prepare();
    Guests.require("/bin/bash", "bash");
    Guests.require("/usr/bin/python3", "python3");
    Guests.require("/usr/bin/nc.openbsd", "netcat-openbsd");
  }

  @Test
  void serversAndClientsInsideOneRunBehaveAsNatively() throws Exception {
    Path script = copyScript("network.sh");
    Guests.Result r = Guests.assertSameAsNative(List.of("/bin/bash", script.toString()), null, SCRIPT_LIMIT);
    assertThat(r.stdout()).isEqualTo("""
        served by python3
        -- http.server and busybox wget: status 0
        -- wget of a missing file: status 1
        -- http.server: ended by signal 15
        requests logged: 1 ok, 1 not found
        pong from the listener
        -- busybox nc -l: status 0
        ping from the client
        reply over the UNIX socket
        -- nc.openbsd -U: status 0
        -- nc.openbsd -lU: status 0
        request over the UNIX socket
        s
        -- cleanup: status 0
        """);
  }

  @Test
  @Timeout(value = 12, unit = TimeUnit.MINUTES)
  void aServerInsideServesTheHostAndAClientInsideFetchesFromTheHost() throws Exception {
    Path script = copyScript("network-host.sh");
    Path site = Guests.WORK.resolve("site");
    Files.createDirectories(site);
    Files.writeString(site.resolve("inside.txt"), "served from inside the vkernel\n");
    HttpServer outside = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    byte[] outsideBody = "served by the host's JVM\n".getBytes(StandardCharsets.US_ASCII);
    outside.createContext("/outside.txt", exchange -> {
      exchange.sendResponseHeaders(200, outsideBody.length);
      try (OutputStream body = exchange.getResponseBody()) {
        body.write(outsideBody);
      }
    });
    outside.start();
    StringBuilder out = new StringBuilder();
    try (LiveRun run = LiveRun.start(List.of(), List.of(Guests.BUSYBOX, "sh", script.toString(),
        Integer.toString(outside.getAddress().getPort())), true)) {
      int port = -1;
      for (String line; port < 0 && (line = run.nextLine(STEP_LIMIT)) != null; ) {
        out.append(line).append('\n');
        Matcher m = Pattern.compile("^serving on port (\\d+)$").matcher(line);
        if (m.matches()) {
          port = Integer.parseInt(m.group(1));
        }
      }
      assertThat(port).as("the server inside said its port: %s", out).isPositive();
      HttpResponse<String> inside;
      try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofMinutes(1)).build()) {
        inside = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/inside.txt"))
            .timeout(Duration.ofMinutes(2)).build(), HttpResponse.BodyHandlers.ofString());
      }
      assertThat(inside.statusCode()).isEqualTo(200);
      assertThat(inside.body()).isEqualTo("served from inside the vkernel\n");
      try (OutputStream stdin = run.stdin()) {
        stdin.write("done\n".getBytes(StandardCharsets.US_ASCII));
      }
      for (String line; (line = run.nextLine(STEP_LIMIT)) != null; ) {
        out.append(line).append('\n');
      }
      assertThat(run.waitFor(STEP_LIMIT)).as("the vkernel ended").isTrue();
      assertThat(run.process.exitValue()).as("status; stderr: %s", run.stderr()).isZero();
    } finally {
      outside.stop(0);
    }
    assertThat(out.toString()).matches("""
        serving on port \\d+
        served by the host's JVM
        -- wget from the host: status 0
        -- http.server: ended by signal 15
        requests logged: 1
        """);
  }

  @Test
  void goNetHttpServerAndClientUseEpollAsNatively() throws Exception {
    Path program = Path.of("target", "gobin", "nethttp").toAbsolutePath();
    assertThat(program).as("built by src/test/go/build.sh: run it through Maven").isExecutable();
    Guests.Result expected = Guests.runNative(List.of(program.toString()), Guests.env(), null);
    assertThat(expected.status()).as("native: %s", expected).isZero();
    Path trace = Guests.WORK.resolve("nethttp.trace");
    Files.deleteIfExists(trace);
    Guests.Result r = Guests.runVkernel(List.of("--trace=" + trace), List.of(program.toString()), Guests.env(), null);
    assertThat(r.stdout()).as("%s", r).isEqualTo(expected.stdout());
    assertThat(r.status()).isZero();
    assertThat(r.stdout()).contains("GET /hello?name=vkernel: 200 \"hello vkernel\"", "keep-alive connection reused: true",
        "concurrent: 32 answers", "server closed");
    // The network poller: one epoll instance, the sockets added to it, and waits that return
    // ready sockets (epoll_pwait in Go 1.19, epoll_wait in others).
    List<String> lines = Files.readAllLines(trace);
    assertThat(lines).anyMatch(l -> l.matches("\\[pid \\d+\\] epoll_create1\\(.*\\) = \\d+ .*"));
    assertThat(lines.stream().filter(l -> l.matches("\\[pid \\d+\\] epoll_ctl\\(.*\\) = 0 .*")).count())
        .as("epoll_ctl calls that succeeded").isGreaterThanOrEqualTo(3);
    assertThat(lines).anyMatch(l -> l.matches("\\[pid \\d+\\] epoll_p?wait\\(.*\\) = [1-9]\\d* .*"));
  }

  private static Path copyScript(String name) throws IOException {
    Path script = Guests.WORK.resolve(name);
    try (InputStream in = NetworkProgramsTest.class.getResourceAsStream("/scripts/" + name)) {
      Files.write(script, in.readAllBytes());
    }
    return script;
  }
}
