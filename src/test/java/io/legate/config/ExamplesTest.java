package io.legate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.service.discovery.v3.DiscoveryResponse;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Loads every configuration of Envoy's own examples (copied under src/test/resources/config/examples).
 * Each bootstrap loads, or fails with a message that names the unsupported type or the bad field.
 */
class ExamplesTest {
  private static final String HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

  /** The examples that do not load, with the reason (after "<file>: "). */
  private static final Map<String, String> EXPECTED_FAILURES = Map.of(
      // HttpConnectionManager.scheme_header_transformation is a message (SchemeHeaderTransformation), not an enum
      "configs__envoyproxy_io_proxy.yaml", HCM + ".scheme_header_transformation: expected an object"
          + " (envoy.config.core.v3.SchemeHeaderTransformation), got the string 'OVERWRITE_SCHEME'",
      // contrib extensions: their protos are not in the API jar
      "examples__kafka__envoy.yaml", HCM + ": unknown type URL"
          + " 'type.googleapis.com/envoy.extensions.filters.network.kafka_broker.v3.KafkaBroker'",
      "examples__mysql__envoy.yaml", HCM + ": unknown type URL"
          + " 'type.googleapis.com/envoy.extensions.filters.network.mysql_proxy.v3.MySQLProxy'",
      "examples__postgres__envoy.yaml", HCM + ": unknown type URL"
          + " 'type.googleapis.com/envoy.extensions.filters.network.postgres_proxy.v3alpha.PostgresProxy'",
      // filters is written as a mapping instead of a list in this stored version of the file
      "examples__dynamic-config-fs__configs__lds.yaml", "resources[0].filter_chains[0].filters: expected a list,"
          + " got an object");

  static Path examplesDir() {
    try {
      return Path.of(ExamplesTest.class.getResource("/config/examples").toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  static boolean isResourceFile(String name) {
    return name.startsWith("examples__dynamic-config-fs__configs__") || name.equals("examples__redis__cds.yaml");
  }

  static Stream<String> examples() throws IOException {
    try (Stream<Path> files = Files.list(examplesDir())) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".yaml")).sorted().toList().stream();
    }
  }

  @Test
  void allFortyThreeExamplesArePresent() throws IOException {
    List<String> names = examples().toList();
    assertThat(names).hasSize(43);
    assertThat(names.stream().filter(ExamplesTest::isResourceFile)).hasSize(3);
  }

  @ParameterizedTest
  @MethodSource("examples")
  void exampleLoadsOrNamesWhatIsUnsupported(String name) {
    Path file = examplesDir().resolve(name);
    String failure = EXPECTED_FAILURES.get(name);
    if (failure != null) {
      assertThatThrownBy(() -> load(file, name)).isInstanceOf(ConfigException.class).hasMessage(file + ": " + failure);
      return;
    }
    load(file, name);
  }

  private static void load(Path file, String name) {
    if (isResourceFile(name)) {
      DiscoveryResponse response = ConfigLoader.load(file, DiscoveryResponse.newBuilder()).build();
      assertThat(response.getResourcesList()).isNotEmpty();
      for (Any resource : response.getResourcesList()) {
        assertThat(resource.getTypeUrl()).isIn("type.googleapis.com/envoy.config.cluster.v3.Cluster",
            "type.googleapis.com/envoy.config.listener.v3.Listener");
      }
      ProtoValidator.validate(response, "");
      return;
    }
    Bootstrap bootstrap = ConfigLoader.loadBootstrap(file, null);
    assertThat(bootstrap.hasStaticResources() || bootstrap.hasDynamicResources()).isTrue();
  }
}
