package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The upstream HTTP/1.1 codec against a raw upstream that records the exact request bytes and
 * answers exact response bytes.
 */
class Http1UpstreamCodecIntegrationTest {
  static final String CONFIG =
      """
      static_resources:
        listeners:
        - name: front
          address: { socket_address: { address: 127.0.0.1, port_value: 0 } }
          filter_chains:
          - filters:
            - name: envoy.filters.network.http_connection_manager
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                stat_prefix: ingress
                route_config:
                  virtual_hosts:
                  - name: all
                    domains: ["*"]
                    routes:
                    - match: { prefix: "/" }
                      route: { cluster: up }
                http_filters:
                - name: envoy.filters.http.router
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
        clusters:
        - name: up
          type: STATIC
          connect_timeout: 1s
          load_assignment:
            cluster_name: up
            endpoints:
            - lb_endpoints:
              - endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${UP} } } }
      """;

  /** What the scripted upstream answers to a request: exact bytes, optionally one at a time, then maybe close. */
  record Reply(String bytes, boolean byteByByte, boolean close) {
    static Reply of(String bytes) {
      return new Reply(bytes, false, false);
    }
  }

  /** A raw upstream: reads whole requests (any framing), records their bytes, answers by script. */
  static final class ScriptedUpstream implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger connections = new AtomicInteger();
    final LinkedBlockingQueue<String> requests = new LinkedBlockingQueue<>();
    final List<Socket> open = new CopyOnWriteArrayList<>();

    ScriptedUpstream(Function<String, Reply> script) throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread t = new Thread(() -> {
        while (!socket.isClosed()) {
          try {
            Socket s = socket.accept();
            s.setTcpNoDelay(true);
            connections.incrementAndGet();
            open.add(s);
            Thread c = new Thread(() -> serve(s, script));
            c.setDaemon(true);
            c.start();
          } catch (IOException e) {
            return;
          }
        }
      });
      t.setDaemon(true);
      t.start();
    }

    private void serve(Socket s, Function<String, Reply> script) {
      try (s) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          String request = readRequest(in);
          if (request == null) {
            return;
          }
          requests.add(request);
          Reply r = script.apply(request);
          byte[] bytes = r.bytes().getBytes(StandardCharsets.ISO_8859_1);
          if (r.byteByByte()) {
            for (byte b : bytes) {
              out.write(b);
              out.flush();
            }
          } else {
            out.write(bytes);
            out.flush();
          }
          if (r.close()) {
            return;
          }
        }
      } catch (IOException e) {
        // connection gone
      }
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws IOException {
      socket.close();
      for (Socket s : open) {
        s.close();
      }
    }
  }

  static String line(InputStream in, ByteArrayOutputStream raw) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0) {
      raw.write(c);
      sb.append((char) c);
      if (c == '\n') {
        return sb.toString();
      }
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  /** Reads one request strictly (CRLF line ends, chunk framing checked); null at end of stream. */
  static String readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream raw = new ByteArrayOutputStream();
    long length = 0;
    boolean chunked = false;
    String l;
    while ((l = line(in, raw)) != null && !l.equals("\r\n")) {
      String lower = l.toLowerCase();
      if (lower.startsWith("content-length:")) {
        length = Long.parseLong(lower.substring(15).trim());
      } else if (lower.equals("transfer-encoding: chunked\r\n")) {
        chunked = true;
      }
    }
    if (l == null) {
      return null;
    }
    if (chunked) {
      while (true) {
        String size = line(in, raw);
        if (size == null || !size.matches("[0-9a-f]+\r\n")) {
          throw new IOException("bad chunk size line: " + size);
        }
        int n = Integer.parseInt(size.trim(), 16);
        if (n == 0) {
          while (!"\r\n".equals(l = line(in, raw))) {
            if (l == null) {
              throw new IOException("truncated trailers");
            }
          }
          break;
        }
        raw.write(in.readNBytes(n));
        if (!"\r\n".equals(line(in, raw))) {
          throw new IOException("chunk data not followed by CRLF");
        }
      }
    } else {
      raw.write(in.readNBytes((int) length));
    }
    return raw.toString(StandardCharsets.ISO_8859_1);
  }

  /** Decodes a chunked body (strictly) and returns its data. */
  static String dechunk(String body) {
    StringBuilder data = new StringBuilder();
    int i = 0;
    while (true) {
      int crlf = body.indexOf("\r\n", i);
      int n = Integer.parseInt(body.substring(i, crlf), 16);
      i = crlf + 2;
      if (n == 0) {
        return data.toString();
      }
      data.append(body, i, i + n);
      i += n;
      assertThat(body.substring(i, i + 2)).isEqualTo("\r\n");
      i += 2;
    }
  }

  Legate legate;
  ScriptedUpstream upstream;

  @AfterEach
  void stop() throws IOException {
    if (legate != null) {
      legate.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  void start(Function<String, Reply> script) throws IOException {
    start(script, CONFIG);
  }

  void start(Function<String, Reply> script, String config) throws IOException {
    upstream = new ScriptedUpstream(script);
    legate = Legate.start(config, Map.of("UP", upstream.port()));
  }

  HttpResponse<String> get(HttpClient client, String method, String path) throws Exception {
    return client.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + legate.port("front") + path))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .timeout(Duration.ofSeconds(10))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void requestHeadAndChunkedBodyAreExactOnTheWire() throws Exception {
    start(req -> Reply.of("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    String resp = legate.raw("front",
        "POST /up?q=1 HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\n"
            + "X-Custom: v\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        5000);
    assertThat(resp).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok");
    String req = upstream.requests.poll(5, TimeUnit.SECONDS);
    assertThat(req).isNotNull();
    int headEnd = req.indexOf("\r\n\r\n") + 4;
    String head = req.substring(0, headEnd);
    assertThat(head).startsWith("POST /up?q=1 HTTP/1.1\r\nhost: a.example\r\n")
        .contains("\r\nx-custom: v\r\n")
        .endsWith("\r\ntransfer-encoding: chunked\r\n\r\n")
        .doesNotContain("\nte:")
        .doesNotContain("connection:");
    assertThat(head.split("\r\n")).allMatch(h -> h.isEmpty() || h.startsWith("POST ") || h.matches("[a-z0-9-]+: .*"));
    String body = req.substring(headEnd);
    assertThat(body).endsWith("\r\n0\r\n\r\n");
    assertThat(dechunk(body)).isEqualTo("hello world");

    // Request trailers close the chunked body.
    legate.raw("front", "POST /tr HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + "3\r\nabc\r\n0\r\nX-Tr: 1\r\n\r\n", 5000);
    String withTrailers = upstream.requests.poll(5, TimeUnit.SECONDS);
    assertThat(withTrailers).startsWith("POST /tr HTTP/1.1\r\nhost: t\r\n")
        .contains("\r\ntransfer-encoding: chunked\r\n\r\n").endsWith("abc\r\n0\r\nx-tr: 1\r\n\r\n");

    // A request with a length goes as is; one without a body has no framing headers at all.
    legate.raw("front", "PUT /len HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc", 5000);
    String put = upstream.requests.poll(5, TimeUnit.SECONDS);
    assertThat(put).startsWith("PUT /len HTTP/1.1\r\nhost: b\r\n").contains("\r\ncontent-length: 3\r\n")
        .doesNotContain("transfer-encoding").endsWith("\r\n\r\nabc");
    legate.raw("front", "GET /get HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n", 5000);
    String get = upstream.requests.poll(5, TimeUnit.SECONDS);
    assertThat(get).startsWith("GET /get HTTP/1.1\r\nhost: c\r\n").endsWith("\r\n\r\n")
        .doesNotContain("transfer-encoding").doesNotContain("content-length");
  }

  @Test
  void chunkedResponseWithTrailersWholeAndOneByteAtATime() throws Exception {
    String response = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 1\r\n\r\n"
        + "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n";
    start(req -> new Reply(response, req.startsWith("GET /slow "), false));
    // Two requests one after the other on one downstream connection (one worker, one upstream pool).
    try (Socket client = new Socket(InetAddress.getLoopbackAddress(), legate.port("front"))) {
      client.setSoTimeout(5000);
      for (String path : new String[] {"/fast", "/slow"}) {
        client.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: a\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        StringBuilder sb = new StringBuilder();
        InputStream in = client.getInputStream();
        while (!(sb.indexOf("\r\n0\r\n") > 0 && sb.toString().endsWith("\r\n\r\n"))) {
          int c = in.read();
          assertThat(c).as(path + " got: " + sb).isNotNegative();
          sb.append((char) c);
        }
        String resp = sb.toString();
        assertThat(resp).as(path).startsWith("HTTP/1.1 200 OK\r\n").contains("\r\nx-up: 1\r\n")
            .contains("\r\ntransfer-encoding: chunked\r\n");
        String body = resp.substring(resp.indexOf("\r\n\r\n") + 4);
        assertThat(dechunk(body)).as(path).isEqualTo("hello world");
        assertThat(body).as(path).contains("\r\n0\r\nx-trailer: yes\r\n");
      }
    }
    assertThat(upstream.requests).hasSize(2);
    // Both responses ended cleanly: the upstream connection was reused.
    assertThat(upstream.connections.get()).isEqualTo(1);
  }

  @Test
  void headNoContentAndNotModifiedCarryNoBodyAndKeepTheConnection() throws Exception {
    start(req -> {
      if (req.startsWith("HEAD ")) {
        return Reply.of("HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n");
      }
      if (req.startsWith("GET /204 ")) {
        return Reply.of("HTTP/1.1 204 No Content\r\n\r\n");
      }
      if (req.startsWith("GET /304 ")) {
        return Reply.of("HTTP/1.1 304 Not Modified\r\ncontent-length: 5\r\n\r\n");
      }
      return Reply.of("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> head = get(client, "HEAD", "/head");
    assertThat(head.statusCode()).isEqualTo(200);
    assertThat(head.headers().firstValue("content-length")).hasValue("100");
    assertThat(get(client, "GET", "/204").statusCode()).isEqualTo(204);
    assertThat(get(client, "GET", "/304").statusCode()).isEqualTo(304);
    HttpResponse<String> ok = get(client, "GET", "/ok");
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.body()).isEqualTo("ok");
    assertThat(upstream.requests).hasSize(4);
    assertThat(upstream.connections.get()).isEqualTo(1);
  }

  @Test
  void aResponseWithoutLengthEndsWithTheConnection() throws Exception {
    start(req -> new Reply("HTTP/1.1 200 OK\r\nx-a: b\r\n\r\nuntil close", false, true));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> r = get(client, "GET", "/close");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("until close");
    }
    assertThat(upstream.connections.get()).isEqualTo(2);
  }

  @Test
  void aMalformedStatusLineIsAnUpstreamProtocolError() throws Exception {
    start(req -> Reply.of(req.startsWith("GET /bad ") ? "HTTP/1.1 2x0 OK\r\n\r\n" : "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> r = get(client, "GET", "/bad");
    assertThat(r.statusCode()).isEqualTo(502); // Envoy answers an upstream protocol error with 502
    assertThat(r.body()).contains("protocol error");
    // The broken connection is not reused.
    assertThat(get(client, "GET", "/ok").body()).isEqualTo("ok");
    assertThat(upstream.connections.get()).isEqualTo(2);
  }

  /** A response head with {@code n} header fields besides content-length. */
  static String headWithFields(int n) {
    StringBuilder sb = new StringBuilder("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n");
    for (int i = 0; i < n; i++) {
      sb.append("x-h-").append(i).append(": v\r\n");
    }
    return sb.append("\r\nok").toString();
  }

  @Test
  void moreResponseHeadersThanMaxHeadersCountIsAnUpstreamProtocolError() throws Exception {
    // Envoy's default max_headers_count (100) applies to upstream responses too.
    start(req -> Reply.of(headWithFields(req.startsWith("GET /many ") ? 100 : 99)));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> r = get(client, "GET", "/many");
    assertThat(r.statusCode()).isEqualTo(502);
    assertThat(r.body()).isEqualTo("upstream connect error or disconnect/reset before headers. reset reason: protocol error");
    HttpResponse<String> ok = get(client, "GET", "/hundred"); // 100 fields: at the limit
    assertThat(ok.statusCode()).isEqualTo(200);
    assertThat(ok.headers().firstValue("x-h-98")).hasValue("v");
  }

  @Test
  void theClusterMaxHeadersCountRaisesTheLimit() throws Exception {
    start(
        req -> Reply.of(headWithFields(150)),
        CONFIG.replace(
            "    connect_timeout: 1s\n",
            "    connect_timeout: 1s\n"
                + "    typed_extension_protocol_options:\n"
                + "      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:\n"
                + "        \"@type\": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions\n"
                + "        common_http_protocol_options: { max_headers_count: 200 }\n"
                + "        explicit_http_config: { http_protocol_options: {} }\n"));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    HttpResponse<String> r = get(client, "GET", "/many");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("x-h-149")).hasValue("v");
  }

  @Test
  void aResponseHeadOverMaxResponseHeadersKbIsAnUpstreamProtocolError() throws Exception {
    String big = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-big: " + "v".repeat(2000) + "\r\n\r\nok";
    start(
        req -> Reply.of(req.startsWith("GET /big ") ? big : headWithFields(3)),
        CONFIG.replace(
            "    connect_timeout: 1s\n",
            "    connect_timeout: 1s\n"
                + "    common_http_protocol_options: { max_response_headers_kb: 1 }\n"));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    assertThat(get(client, "GET", "/small").statusCode()).isEqualTo(200);
    HttpResponse<String> r = get(client, "GET", "/big");
    assertThat(r.statusCode()).isEqualTo(502);
    assertThat(r.body()).endsWith("reset reason: protocol error");
  }

  @Test
  void aContinueBeforeTheResponseIsSkipped() throws Exception {
    start(req -> new Reply(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-final: 1\r\n\r\nok",
        req.startsWith("GET /slow "), false));
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    for (String path : new String[] {"/fast", "/slow"}) {
      HttpResponse<String> r = get(client, "GET", path);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("x-final")).hasValue("1");
      assertThat(r.body()).isEqualTo("ok");
    }
    assertThat(upstream.connections.get()).isEqualTo(1);
  }
}
