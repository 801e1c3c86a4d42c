package io.legate.examples;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.Legate;
import io.legate.testing.TestUpstream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The README's control-plane example, with its bootstrap file, works as the README says. */
class ControlPlaneExampleTest {
  @Test
  void legateFollowsTheExampleControlPlane() throws Exception {
    String bootstrap = Files.readString(Path.of("examples/control-plane/bootstrap.yaml"));
    try (TestUpstream backend = new TestUpstream("backend");
        ControlPlaneExample cp = new ControlPlaneExample(0)) {
      int listenerPort;
      try (ServerSocket s = new ServerSocket(0)) {
        listenerPort = s.getLocalPort();
      }
      cp.serve(listenerPort, "127.0.0.1", backend.port());
      String yaml =
          bootstrap.replace("port_value: 18000", "port_value: " + cp.port()).replace("port_value: 9901", "port_value: 0");
      try (Legate legate = Legate.start(yaml, Map.of())) {
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + listenerPort + "/hello")).build();
        HttpResponse<String> r = null;
        long deadline = System.currentTimeMillis() + 10_000;
        while (System.currentTimeMillis() < deadline) {
          try {
            r = client.send(req, HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() == 200) {
              break;
            }
          } catch (java.io.IOException e) {
            // the listener is not there yet
          }
          Thread.sleep(50);
        }
        assertThat(r).isNotNull();
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-upstream")).hasValue("backend");
        assertThat(r.body()).startsWith("GET /hello HTTP/1.1\n");
      }
    }
  }
}
