package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.H2Client;
import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** max_requests_per_connection and max_connection_duration on downstream connections. */
class ConnectionLimitsIntegrationTest {
  static final String CONFIG =
      "admin:\n  address: { socket_address: { address: 127.0.0.1, port_value: 0 } }\n"
          + "static_resources:\n  listeners:\n"
          + HcmOptionsIntegrationTest.listener("maxreq", "127.0.0.1", "common_http_protocol_options: { max_requests_per_connection: 2 }", "")
          + HcmOptionsIntegrationTest.listener("maxdur", "127.0.0.1", "common_http_protocol_options: { max_connection_duration: 0.3s }", "")
          + """
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

  static TestUpstream up;
  static Legate legate;

  @BeforeAll
  static void start() {
    up = new TestUpstream("up");
    legate = Legate.start(CONFIG, Map.of("UP", up.port()));
  }

  @AfterAll
  static void stop() {
    legate.close();
    up.close();
  }

  @Test
  void http1ConnectionClosesAfterMaxRequests() {
    String r = legate.raw("maxreq", "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.1\r\nHost: a\r\n\r\n", 3000);
    assertThat(r).contains("GET /1 ").contains("GET /2 ").doesNotContain("GET /3 ");
    assertThat(r.split("HTTP/1.1 200 OK", -1)).hasSize(3);
    assertThat(r).containsIgnoringCase("\r\nconnection: close\r\n");
    assertThat(legate.stat("http.maxreq.downstream_cx_max_requests_reached")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void http2ConnectionDrainsAfterMaxRequests() {
    try (H2Client c = new H2Client(legate.port("maxreq"))) {
      assertThat(c.get("/a").status()).isEqualTo(200);
      assertThat(c.get("/b").status()).isEqualTo(200);
      assertThat(c.awaitClosed(5000)).as("closed after the second stream").isTrue();
    }
  }

  @Test
  void idleHttp1ConnectionClosesAtMaxDuration() {
    long start = System.nanoTime();
    // A keep-alive request, then nothing: the proxy closes the idle connection at 0.3 s.
    String r = legate.raw("maxdur", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 5000);
    long ms = (System.nanoTime() - start) / 1_000_000;
    assertThat(r).startsWith("HTTP/1.1 200 OK");
    assertThat(ms).as("closed by the proxy, not by the read timeout").isLessThan(4000);
    assertThat(legate.stat("http.maxdur.downstream_cx_max_duration_reached")).isGreaterThanOrEqualTo(1);
  }

  @Test
  void http2ConnectionDrainsAtMaxDuration() {
    try (H2Client c = new H2Client(legate.port("maxdur"))) {
      assertThat(c.get("/a").status()).isEqualTo(200);
      assertThat(c.awaitClosed(5000)).isTrue();
    }
  }
}
