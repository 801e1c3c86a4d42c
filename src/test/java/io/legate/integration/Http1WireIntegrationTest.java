package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The exact bytes the HTTP/1.1 codec puts on the wire (chunked framing with trailers, HEAD,
 * 204/304, HTTP/1.0 keep-alive) and what it parses from requests however they are split.
 */
class Http1WireIntegrationTest {
  static final String CONFIG =
      """
      admin:
        address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
      static_resources:
        listeners:
        - name: edge
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: edge
                codec_type: HTTP1
                http_protocol_options: { accept_http_10: true }
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/raw/" }
                      route: { cluster: raw }
                    - match: { prefix: "/" }
                      route: { cluster: echo }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: echo
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: echo
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${ECHO} } } }
        - name: raw
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: raw
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${RAW} } } }
      """;

  /** Canned upstream responses by path. */
  static final Map<String, String> CANNED =
      Map.of(
          "/raw/chunked-trailers",
          "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
              + "5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\nx-more: 1\r\n\r\n",
          "/raw/fixed", "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
          "/raw/no-content", "HTTP/1.1 204 No Content\r\n\r\n",
          "/raw/not-modified", "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n");

  static TestUpstream echo;
  static ServerSocket raw;
  static Legate legate;

  @BeforeAll
  static void start() throws IOException {
    echo = new TestUpstream("echo");
    raw = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
    Thread t = new Thread(Http1WireIntegrationTest::acceptRaw, "raw-upstream");
    t.setDaemon(true);
    t.start();
    legate = Legate.start(CONFIG, Map.of("ECHO", echo.port(), "RAW", raw.getLocalPort()));
  }

  @AfterAll
  static void stop() throws IOException {
    legate.close();
    echo.close();
    raw.close();
  }

  static void acceptRaw() {
    while (!raw.isClosed()) {
      try {
        Socket s = raw.accept();
        Thread t = new Thread(() -> serveRaw(s), "raw-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return;
      }
    }
  }

  static void serveRaw(Socket s) {
    try (s) {
      InputStream in = s.getInputStream();
      OutputStream out = s.getOutputStream();
      while (true) {
        StringBuilder head = new StringBuilder();
        int b;
        while (!head.toString().endsWith("\r\n\r\n")) {
          if ((b = in.read()) < 0) {
            return;
          }
          head.append((char) b);
        }
        String path = head.substring(head.indexOf(" ") + 1, head.indexOf(" ", head.indexOf(" ") + 1));
        String response = CANNED.get(path);
        if (head.toString().startsWith("HEAD ")) {
          response = response.substring(0, response.indexOf("\r\n\r\n") + 4);
        }
        out.write(response.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
      }
    } catch (IOException e) {
      // the proxy closed the connection
    }
  }

  /** Writes {@code request} (one byte per write when {@code bytewise}) and reads until the proxy closes or goes quiet. */
  static String exchange(String request, boolean bytewise) throws IOException {
    try (Socket s = new Socket()) {
      s.setTcpNoDelay(true);
      s.connect(new InetSocketAddress("127.0.0.1", legate.port("edge")), 5000);
      s.setSoTimeout(2000);
      OutputStream out = s.getOutputStream();
      byte[] bytes = request.getBytes(StandardCharsets.ISO_8859_1);
      if (bytewise) {
        for (byte b : bytes) {
          out.write(b);
          out.flush();
        }
      } else {
        out.write(bytes);
        out.flush();
      }
      InputStream in = s.getInputStream();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      byte[] buf = new byte[8192];
      try {
        int n;
        while ((n = in.read(buf)) > 0) {
          got.write(buf, 0, n);
        }
      } catch (SocketTimeoutException e) {
        got.write("<open>".getBytes(StandardCharsets.US_ASCII));
      }
      return got.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** Header lines whose values change from run to run (or that the proxy adds by configuration). */
  static final Pattern VOLATILE = Pattern.compile("(?im)^(date|x-envoy-upstream-service-time|server|x-request-id): [^\r\n]*\r?\n");

  static String stable(String wire) {
    return VOLATILE.matcher(wire).replaceAll("");
  }

  @Test
  void chunkedResponseWithTrailers() throws IOException {
    String got = stable(exchange("GET /raw/chunked-trailers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", false));
    assertThat(got)
        .isEqualTo(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
                + "5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: abc\r\nx-more: 1\r\n\r\n");
  }

  @Test
  void headHasHeadersButNoBody() throws IOException {
    String got =
        stable(
            exchange(
                "HEAD /raw/fixed HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "GET /raw/fixed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false));
    assertThat(got)
        .isEqualTo(
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
                + "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
  }

  @Test
  void noContentAndNotModifiedHaveNoBodyAndKeepTheConnection() throws IOException {
    String got =
        stable(
            exchange(
                "GET /raw/no-content HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "GET /raw/not-modified HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "GET /raw/fixed HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                false));
    assertThat(got)
        .isEqualTo(
            "HTTP/1.1 204 No Content\r\n\r\n"
                + "HTTP/1.1 304 Not Modified\r\netag: \"v1\"\r\n\r\n"
                + "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
  }

  @Test
  void http10KeepAlive() throws IOException {
    String got =
        stable(
            exchange(
                "GET /raw/fixed HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"
                    + "GET /raw/fixed HTTP/1.0\r\nHost: a\r\n\r\n",
                false));
    assertThat(got)
        .isEqualTo(
            "HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nhello"
                + "HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello");
  }

  @Test
  void http10KeepAliveStaysOpen() throws IOException {
    String got = stable(exchange("GET /raw/fixed HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", false));
    assertThat(got).isEqualTo("HTTP/1.0 200 OK\r\ncontent-length: 5\r\nconnection: keep-alive\r\n\r\nhello<open>");
  }

  static final String SPLIT_REQUEST =
      "\r\nPOST /echo/a?b=c HTTP/1.1\r\nHost: split.example\r\nX-Mixed-Case: Value With  Spaces \r\n"
          + "X-Empty:\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
          + "3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-trailer: t\r\n\r\n";

  @Test
  void aRequestSplitAtEveryByteParsesTheSame() throws IOException {
    String whole = exchange(SPLIT_REQUEST, false);
    String bytewise = exchange(SPLIT_REQUEST, true);
    assertThat(whole).startsWith("HTTP/1.1 200 OK\r\n");
    String body = whole.substring(whole.indexOf("\r\n\r\n") + 4);
    assertThat(body)
        .startsWith("POST /echo/a?b=c HTTP/1.1\n")
        .contains("\nhost: split.example\n")
        .contains("\nx-mixed-case: Value With  Spaces\n")
        .contains("\nx-empty: \n")
        .endsWith("\n\nabc0123456789abcdef");
    assertThat(stable(bytewise)).isEqualTo(stable(whole));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\u007fb\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX@Bad: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\n: no-name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nno-colon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a\r\nX-Bad: a\nb\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
        "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
        "GET / http/1.1\r\nHost: a\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx bad: 1\r\n\r\n"
      })
  void invalidBytesAre400(String request) throws IOException {
    String got = exchange(request, false);
    assertThat(got).startsWith("HTTP/1.1 400 Bad Request\r\n").contains("\r\nconnection: close\r\n").doesNotContain("<open>");
  }
}
