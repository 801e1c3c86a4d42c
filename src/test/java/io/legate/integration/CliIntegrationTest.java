package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.testing.TestUpstream;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code legate} command as a process: flags, exit codes, validate mode, draining on SIGTERM. */
class CliIntegrationTest {
  @TempDir Path dir;

  record Result(int exit, String out, String err) {}

  static ProcessBuilder legate(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("-Dio.netty.leakDetection.level=paranoid");
    cmd.add("io.legate.server.Main");
    cmd.addAll(List.of(args));
    return new ProcessBuilder(cmd);
  }

  static Result run(String... args) throws Exception {
    Process p = legate(args).start();
    CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
    CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("process finished").isTrue();
    return new Result(p.exitValue(), out.get(), err.get());
  }

  static String read(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  static String config(int listenerPort, int adminPort, int upstreamPort) {
    return """
        admin:
          address: { socket_address: { address: 127.0.0.1, port_value: %d } }
        static_resources:
          listeners:
          - name: front
            address: { socket_address: { address: 127.0.0.1, port_value: %d } }
            filter_chains:
            - filters:
              - name: envoy.filters.network.http_connection_manager
                typed_config:
                  "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
                  stat_prefix: front
                  route_config:
                    virtual_hosts:
                    - name: all
                      domains: ["*"]
                      routes:
                      - match: { prefix: "/" }
                        route: { cluster: backend }
                  http_filters:
                  - name: envoy.filters.http.router
                    typed_config:
                      "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
          clusters:
          - name: backend
            type: STRICT_DNS
            connect_timeout: 1s
            load_assignment:
              cluster_name: backend
              endpoints:
              - lb_endpoints:
                - endpoint: { address: { socket_address: { address: localhost, port_value: %d } } }
        """
        .formatted(adminPort, listenerPort, upstreamPort);
  }

  @Test
  void versionAndHelp() throws Exception {
    Result v = run("--version");
    assertThat(v.exit()).isZero();
    assertThat(v.out()).startsWith("legate version: ");
    Result h = run("--help");
    assertThat(h.exit()).isZero();
    assertThat(h.out()).contains("--config-path", "--config-yaml", "--mode", "--concurrency", "--drain-time-s");
    Result bad = run("--no-such-flag");
    assertThat(bad.exit()).isEqualTo(1);
    assertThat(bad.err()).contains("Unknown option: '--no-such-flag'");
  }

  @Test
  void validateModeSaysOkOrNamesTheProblem() throws Exception {
    Path good = dir.resolve("good.yaml");
    Files.writeString(good, config(10000, 9901, 8080));
    Result ok = run("--mode", "validate", "-c", good.toString());
    assertThat(ok.exit()).isZero();
    assertThat(ok.out().trim()).isEqualTo("configuration '" + good + "' OK");

    Path bad = dir.resolve("bad.yaml");
    Files.writeString(bad, config(10000, 9901, 8080).replace("cluster: backend }", "cluster: nowhere }"));
    Result err = run("--mode", "validate", "-c", bad.toString());
    assertThat(err.exit()).isEqualTo(1);
    assertThat(err.err().trim())
        .isEqualTo(
            "error initializing configuration '" + bad + "': static_resources.listeners[0].filter_chains[0].filters[0]"
                + ".typed_config.route_config.virtual_hosts[0].routes[0].route.cluster: unknown cluster 'nowhere'");
  }

  @Test
  void configYamlMergesOverTheFile() throws Exception {
    Path file = dir.resolve("base.yaml");
    Files.writeString(file, config(10000, 9901, 8080));
    // The overlay adds a second cluster; the merged config validates.
    Result r =
        run(
            "--mode", "validate", "-c", file.toString(), "--config-yaml",
            "static_resources: {clusters: [{name: extra, type: STATIC, connect_timeout: 1s, load_assignment: {cluster_name: extra}}]}");
    assertThat(r.exit()).as(r.err()).isZero();
  }

  @Test
  void portInUseExitsWithOne() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      Path file = dir.resolve("busy.yaml");
      Files.writeString(file, config(taken.getLocalPort(), 0, 8080));
        Result r = run("-c", file.toString());
      assertThat(r.exit()).isEqualTo(1);
      assertThat(r.err())
          .contains(
              "static_resources.listeners[0].address: cannot bind listener 'front' to 127.0.0.1:"
                  + taken.getLocalPort() + ": address already in use");
    }
  }

  @Test
  void servesThenDrainsOnSigterm() throws Exception {
    try (TestUpstream up = new TestUpstream("up")) {
      int port = freePort();
      int admin = freePort();
      Path file = dir.resolve("serve.yaml");
      Files.writeString(file, config(port, admin, up.port()));
      Path log = dir.resolve("serve.out");
      Process p =
          legate("-c", file.toString(), "--drain-time-s", "5", "--concurrency", "1")
              .redirectErrorStream(true)
              .redirectOutput(log.toFile())
              .start();
      HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
      URI ready = URI.create("http://127.0.0.1:" + admin + "/ready");
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      boolean live = false;
      while (!live && System.nanoTime() < deadline) {
        try {
          live = client.send(HttpRequest.newBuilder(ready).build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200;
        } catch (IOException e) {
          Thread.sleep(100);
        }
      }
      assertThat(live).as("server became ready").isTrue();
      // An in-flight request started before SIGTERM still completes during the drain.
      CompletableFuture<HttpResponse<String>> slow =
          client.sendAsync(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/delay/1000")).build(),
              HttpResponse.BodyHandlers.ofString());
      Thread.sleep(300);
      p.destroy(); // SIGTERM
      HttpResponse<String> r = slow.get(20, TimeUnit.SECONDS);
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).isZero();
      assertThat(Files.readString(log)).contains("listener 'front' on 127.0.0.1:" + port);
    }
  }

  @Test
  void quitquitquitExitsZero() throws Exception {
    int admin = freePort();
    Path file = dir.resolve("quit.yaml");
    Files.writeString(file, config(0, admin, 8080));
    Process p = legate("-c", file.toString(), "--drain-time-s", "1").start();
    CompletableFuture.runAsync(() -> read(p.getInputStream()));
    CompletableFuture.runAsync(() -> read(p.getErrorStream()));
    HttpClient client = HttpClient.newHttpClient();
    URI quit = URI.create("http://127.0.0.1:" + admin + "/quitquitquit");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    int status = 0;
    while (status != 200 && System.nanoTime() < deadline) {
      try {
        status = client.send(HttpRequest.newBuilder(quit).POST(HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.ofString()).statusCode();
      } catch (IOException e) {
        Thread.sleep(100);
      }
    }
    assertThat(status).isEqualTo(200);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
  }
}
