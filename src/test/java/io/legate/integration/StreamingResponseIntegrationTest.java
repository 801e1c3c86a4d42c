package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A streamed response's headers reach an HTTP/1.1 client as soon as the upstream sends them, before
 * any body bytes exist (server-sent events, long polling), and the body follows as it comes.
 */
class StreamingResponseIntegrationTest {
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

  Legate legate;
  ServerSocket upstream;

  @AfterEach
  void stop() throws IOException {
    if (legate != null) {
      legate.close();
    }
    if (upstream != null) {
      upstream.close();
    }
  }

  @Test
  void responseHeadersArriveBeforeTheFirstBodyBytes() throws Exception {
    upstream = new ServerSocket(0);
    CountDownLatch headersSeenByClient = new CountDownLatch(1);
    Thread origin =
        new Thread(
            () -> {
              try (Socket s = upstream.accept()) {
                readHead(s.getInputStream());
                OutputStream out = s.getOutputStream();
                out.write("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
                out.flush();
                // The body exists only once the client has the headers.
                if (headersSeenByClient.await(20, TimeUnit.SECONDS)) {
                  out.write("d\r\ndata: hello\n\n\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                  out.flush();
                }
                s.getInputStream().read(); // until the proxy closes or reuses
              } catch (IOException | InterruptedException e) {
                // the test's assertions report what went wrong
              }
            },
            "sse-origin");
    origin.setDaemon(true);
    origin.start();
    legate = Legate.start(CONFIG, Map.of("UP", upstream.getLocalPort()));

    try (Socket c = new Socket("127.0.0.1", legate.port("front"))) {
      c.setSoTimeout(10_000);
      c.getOutputStream().write("GET /events HTTP/1.1\r\nhost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      String head = readHead(c.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 200 OK\r\n").containsIgnoringCase("content-type: text/event-stream");
      headersSeenByClient.countDown();
      String body = readUntil(c.getInputStream(), "0\r\n\r\n");
      assertThat(body).contains("data: hello\n\n");
    }
  }

  private static String readHead(InputStream in) throws IOException {
    return readUntil(in, "\r\n\r\n");
  }

  private static String readUntil(InputStream in, String end) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (!b.toString(StandardCharsets.ISO_8859_1).endsWith(end)) {
      int x = in.read();
      if (x < 0) {
        throw new IOException("closed after: " + b.toString(StandardCharsets.ISO_8859_1));
      }
      b.write(x);
    }
    return b.toString(StandardCharsets.ISO_8859_1);
  }
}
