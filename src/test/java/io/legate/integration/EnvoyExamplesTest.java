package io.legate.integration;

import static org.assertj.core.api.Assertions.assertThat;

import io.legate.config.ConfigException;
import io.legate.server.Options;
import io.legate.server.Server;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Envoy's own example configs: each bootstrap validates (as {@code --mode validate} does, building
 * every runtime object without binding), or is refused with a message that names what is not
 * supported. Never a crash, never a vague error.
 */
class EnvoyExamplesTest {
  /** xDS resource files that are read by other bootstraps, not bootstraps themselves. */
  static final Set<String> RESOURCE_FILES =
      Set.of(
          "examples__dynamic-config-fs__configs__cds.yaml",
          "examples__dynamic-config-fs__configs__lds.yaml",
          "examples__redis__cds.yaml");

  /** The examples that must load today; grows as support grows. */
  static final Set<String> MUST_LOAD =
      Set.of(
          "examples__load-reporting-service__envoy.yaml",
          "examples__locality-load-balancing__envoy-proxy.yaml",
          "examples__tls__envoy-https-passthrough.yaml",
          "examples__local_ratelimit__envoy.yaml",
          "examples__csrf__samesite__envoy.yaml",
          "examples__grpc-bridge__client__envoy-proxy.yaml",
          "examples__gzip__gzip-envoy.yaml",
          "examples__brotli__envoy.yaml",
          "examples__zstd__envoy.yaml",
          "examples__opentelemetry__envoy-front-proxy.yaml",
          "examples__websocket__envoy-wss.yaml",
          "configs__proxy_connect.yaml",

          "examples__dynamic-config-fs__envoy.yaml",
          "examples__dynamic-config-cp__envoy.yaml");

  /**
   * A stored copy that Envoy itself refuses: scheme_header_transformation is a message, written
   * there as a string.
   */
  static final String INVALID_UPSTREAM_COPY = "configs__envoyproxy_io_proxy.yaml";

  static List<Path> examples() throws IOException, URISyntaxException {
    Path dir = Path.of(EnvoyExamplesTest.class.getResource("/config/examples").toURI());
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> !RESOURCE_FILES.contains(p.getFileName().toString())).sorted().toList();
    }
  }

  @Test
  void everyExampleLoadsOrNamesWhatIsUnsupported() throws Exception {
    TreeMap<String, String> outcome = new TreeMap<>();
    for (Path p : examples()) {
      String name = p.getFileName().toString();
      try {
        Server.validate(new Options(p, null, "validate", 1, "warning", "", "", 1));
        outcome.put(name, "OK");
      } catch (ConfigException e) {
        outcome.put(name, e.getMessage());
      }
    }
    StringBuilder table = new StringBuilder();
    outcome.forEach((k, v) -> table.append(k).append(" -> ").append(v).append('\n'));
    System.out.println(table);
    assertThat(outcome).hasSizeGreaterThanOrEqualTo(40);
    outcome.forEach(
        (file, result) -> {
          if (file.equals(INVALID_UPSTREAM_COPY)) {
            assertThat(result)
                .endsWith(
                    "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.scheme_header_transformation:"
                        + " expected an object (envoy.config.core.v3.SchemeHeaderTransformation), got the string 'OVERWRITE_SCHEME'");
          } else if (!result.equals("OK")) {
            // Unsupported features are named; extensions whose protos are not in the API are named by type URL;
            // TLS examples name the certificate file they reference, which is not shipped here.
            assertThat(result)
                .as(file)
                .containsAnyOf("not supported", "unsupported", "unknown type URL", "cannot read file '")
                .doesNotContain("Exception", "null");
            if (result.contains("cannot read file '")) {
              assertThat(result).as(file).containsPattern("\\.filename: cannot read file '[^']+': no such file$");
            }
          }
        });
    for (String f : MUST_LOAD) {
      assertThat(outcome.get(f)).as(f).isEqualTo("OK");
    }
  }
}
