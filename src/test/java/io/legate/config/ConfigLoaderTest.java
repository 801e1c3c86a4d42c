package io.legate.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Any;
import com.google.protobuf.util.Durations;
import io.envoyproxy.envoy.config.bootstrap.v3.Bootstrap;
import io.envoyproxy.envoy.config.cluster.v3.Cluster;
import io.envoyproxy.envoy.config.route.v3.RouteMatch;
import io.envoyproxy.envoy.extensions.filters.http.router.v3.Router;
import io.envoyproxy.envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  private static final String HCM = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";
  private static final String ROUTE = HCM + ".route_config.virtual_hosts[0].routes[0]";

  @TempDir
  Path dir;

  static String base() {
    try {
      return Files.readString(Path.of(ConfigLoaderTest.class.getResource("/config/base.yaml").toURI()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Returns the base config with one piece of text replaced (which must occur in it). */
  static String edit(String from, String to) {
    String base = base();
    assertThat(base).contains(from);
    return base.replace(from, to);
  }

  private Path write(String name, String text) {
    try {
      Path file = dir.resolve(name);
      Files.writeString(file, text);
      return file;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private Bootstrap load(String yaml) {
    return ConfigLoader.loadBootstrap(write("envoy.yaml", yaml), null);
  }

  private void assertError(String yaml, String expected) {
    Path file = write("envoy.yaml", yaml);
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(file, null))
        .isInstanceOf(ConfigException.class)
        .hasMessage(file + ": " + expected);
  }

  @Test
  void loadsBaseConfig() {
    Bootstrap b = load(base());
    assertThat(b.getStaticResources().getClusters(0).getName()).isEqualTo("service");
    assertThat(b.getStaticResources().getClusters(0).getConnectTimeout()).isEqualTo(Durations.fromMillis(250));
    assertThat(b.getStaticResources().getClusters(0).getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
    Any any = b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig();
    HttpConnectionManager hcm = ConfigLoader.unpack(any, HttpConnectionManager.class, "typed_config");
    assertThat(hcm.getStatPrefix()).isEqualTo("ingress_http");
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutes(0).getMatch().getPrefix()).isEqualTo("/");
    assertThat(hcm.getRouteConfig().getVirtualHosts(0).getRoutes(0).getRoute().getCluster()).isEqualTo("service");
    assertThat(hcm.getHttpFilters(0).getTypedConfig().getTypeUrl())
        .isEqualTo("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router");
  }

  @Test
  void unknownFieldIsReportedWithItsFullPath() {
    assertError(edit("match: { prefix: \"/\" }", "match: { prefix: \"/\", bogus: 1 }"),
        ROUTE + ".match.bogus: unknown field \"bogus\" in envoy.config.route.v3.RouteMatch");
  }

  @Test
  void unknownTopLevelField() {
    assertError(base() + "bogus_top: 1\n", "bogus_top: unknown field \"bogus_top\" in envoy.config.bootstrap.v3.Bootstrap");
  }

  @Test
  void acceptsLowerCamelJsonNames() {
    Bootstrap b = load(edit("stat_prefix: ingress_http", "statPrefix: ingress_http")
        .replace("connect_timeout: 0.25s", "connectTimeout: 2s"));
    assertThat(b.getStaticResources().getClusters(0).getConnectTimeout().getSeconds()).isEqualTo(2);
  }

  @Test
  void fieldGivenUnderBothNames() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: ingress_http\n          statPrefix: other"),
        HCM + ".statPrefix: field \"stat_prefix\" is given twice (as \"stat_prefix\" and \"statPrefix\")");
  }

  @Test
  void objectWhereStringExpected() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: {a: 1}"),
        HCM + ".stat_prefix: expected a string, got an object");
  }

  @Test
  void scalarWhereListExpected() {
    assertError(edit("domains: [\"*\"]", "domains: \"*\""),
        HCM + ".route_config.virtual_hosts[0].domains: expected a list, got the string '*'");
  }

  @Test
  void scalarWhereObjectExpected() {
    assertError(edit("route: { cluster: service }", "route: service"),
        ROUTE + ".route: expected an object (envoy.config.route.v3.RouteAction), got the string 'service'");
  }

  @Test
  void listWhereObjectExpected() {
    assertError(edit("match: { prefix: \"/\" }", "match: [ \"/\" ]"),
        ROUTE + ".match: expected an object (envoy.config.route.v3.RouteMatch), got a list");
  }

  @Test
  void unknownEnumValueListsValidNames() {
    assertError(edit("type: STRICT_DNS", "type: STRICT_DNZ"),
        "static_resources.clusters[0].type: unknown value \"STRICT_DNZ\" for enum"
            + " envoy.config.cluster.v3.Cluster.DiscoveryType; valid values: STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST");
  }

  @Test
  void enumNamesAreCaseInsensitiveAsInEnvoy() {
    Bootstrap b = load(edit("type: STRICT_DNS", "type: strict_dns"));
    assertThat(b.getStaticResources().getClusters(0).getType()).isEqualTo(Cluster.DiscoveryType.STRICT_DNS);
  }

  @Test
  void unknownTypeUrl() {
    assertError(edit("envoy.extensions.filters.http.router.v3.Router", "envoy.extensions.filters.http.nope.v3.Nope"),
        HCM + ".http_filters[0].typed_config: unknown type URL 'type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope'");
  }

  @Test
  void anyWithFieldsButNoType() {
    assertError(edit("\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
            "dynamic_stats: true"),
        HCM + ".http_filters[0].typed_config: '@type' is missing: an Any with fields needs"
            + " '@type: type.googleapis.com/<message type>'");
  }

  @Test
  void nameOnlyExtensionsLoad() {
    String emptyAny = edit("\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router", "{}")
        .replace("typed_config:\n              {}", "typed_config: {}");
    Bootstrap b = load(emptyAny);
    HttpConnectionManager hcm = ConfigLoader.unpack(
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig(),
        HttpConnectionManager.class, HCM);
    assertThat(hcm.getHttpFilters(0).getName()).isEqualTo("envoy.filters.http.router");
    assertThat(hcm.getHttpFilters(0).getTypedConfig().getTypeUrl()).isEmpty();

    String absent = edit("          - name: envoy.filters.http.router\n            typed_config:\n"
        + "              \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n",
        "          - name: envoy.filters.http.router\n");
    hcm = ConfigLoader.unpack(load(absent).getStaticResources().getListeners(0).getFilterChains(0).getFilters(0)
        .getTypedConfig(), HttpConnectionManager.class, HCM);
    assertThat(hcm.getHttpFilters(0).hasTypedConfig()).isFalse();
  }

  @Test
  void durationWithoutSecondsSuffix() {
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: \"5\""),
        "static_resources.clusters[0].connect_timeout: invalid duration '5': Envoy durations are a number of seconds"
            + " with an 's' suffix, e.g. \"5s\" or \"0.25s\"");
  }

  @Test
  void durationInMilliseconds() {
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: 5ms"),
        "static_resources.clusters[0].connect_timeout: invalid duration '5ms': Envoy durations are a number of seconds"
            + " with an 's' suffix, e.g. \"5s\" or \"0.25s\"");
  }

  @Test
  void durationAsPlainNumber() {
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: 5"),
        "static_resources.clusters[0].connect_timeout: invalid duration 5 (a number): Envoy durations are a number of"
            + " seconds with an 's' suffix, e.g. \"5s\" or \"0.25s\"");
  }

  @Test
  void durationObjectFormIsAccepted() {
    Bootstrap b = load(edit("connect_timeout: 0.25s", "connect_timeout: { seconds: 2, nanos: 500000000 }"));
    assertThat(b.getStaticResources().getClusters(0).getConnectTimeout()).isEqualTo(Durations.fromMillis(2500));
  }

  @Test
  void oneofConflictNamesBothFields() {
    assertError(edit("match: { prefix: \"/\" }", "match: { prefix: \"/\", path: \"/a\" }"),
        ROUTE + ".match: fields \"prefix\" and \"path\" are both set, but they belong to oneof \"path_specifier\" of"
            + " envoy.config.route.v3.RouteMatch and only one may be set");
  }

  @Test
  void yamlBooleanInStringField() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: on"),
        HCM + ".stat_prefix: expected a string, but YAML read on as a boolean (true); quote the value (\"on\") if it is"
            + " meant as a string");
  }

  @Test
  void yamlOctalInStringField() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: 0755"),
        HCM + ".stat_prefix: expected a string, but YAML read 0755 as the number 493; quote the value (\"0755\") if it"
            + " is meant as a string");
  }

  @Test
  void plainIntegerInStringFieldBecomesString() {
    Bootstrap b = load(edit("stat_prefix: ingress_http", "stat_prefix: 8080"));
    HttpConnectionManager hcm = ConfigLoader.unpack(
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig(),
        HttpConnectionManager.class, HCM);
    assertThat(hcm.getStatPrefix()).isEqualTo("8080");
  }

  @Test
  void wrapperTypesTakeScalars() {
    Bootstrap b = load(edit("connect_timeout: 0.25s", "connect_timeout: 0.25s\n    per_connection_buffer_limit_bytes: 32768"));
    assertThat(b.getStaticResources().getClusters(0).getPerConnectionBufferLimitBytes().getValue()).isEqualTo(32768);
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: 0.25s\n    per_connection_buffer_limit_bytes: [1]"),
        "static_resources.clusters[0].per_connection_buffer_limit_bytes: expected an integer (uint32), got a list");
  }

  @Test
  void structTakesAnything() {
    Bootstrap b = load(edit("connect_timeout: 0.25s",
        "connect_timeout: 0.25s\n    metadata:\n      filter_metadata:\n        app: { a: [1, true, x, null], b: { c: 0755 } }"));
    var app = b.getStaticResources().getClusters(0).getMetadata().getFilterMetadataOrThrow("app");
    assertThat(app.getFieldsOrThrow("a").getListValue().getValues(0).getNumberValue()).isEqualTo(1.0);
    assertThat(app.getFieldsOrThrow("a").getListValue().getValues(1).getBoolValue()).isTrue();
    assertThat(app.getFieldsOrThrow("a").getListValue().getValues(2).getStringValue()).isEqualTo("x");
    assertThat(app.getFieldsOrThrow("b").getStructValue().getFieldsOrThrow("c").getNumberValue()).isEqualTo(493.0);
  }

  @Test
  void integerOutOfRange() {
    assertError(edit("port_value: 8080", "port_value: -1"),
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address"
            + ".port_value: value -1 is out of range for uint32 [0, 4294967295]");
  }

  @Test
  void validationRulesOfTheApiAreEnforced() {
    assertError(edit("port_value: 8080", "port_value: 70000"),
        "static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address"
            + ".port_value: value must be less than or equal to 65535");
  }

  @Test
  void emptyClusterName() {
    assertError(edit("- name: service", "- name: \"\""),
        "static_resources.clusters[0].name: value length must be at least 1 characters");
  }

  @Test
  void routeMatchWithoutPathSpecifier() {
    assertError(edit("match: { prefix: \"/\" }", "match: { case_sensitive: true }"),
        ROUTE + ".match.path_specifier: value is required (set one of: prefix, path, safe_regex, connect_matcher,"
            + " path_separated_prefix, path_match_policy)");
  }

  @Test
  void connectTimeoutMustBePositive() {
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: 0s"),
        "static_resources.clusters[0].connect_timeout: value must be greater than 0s");
  }

  @Test
  void rulesInsideTypedConfigAreEnforced() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: \"\""),
        HCM + ".stat_prefix: value length must be at least 1 characters");
  }

  @Test
  void jsonFormatErrorsGetTheClosestPath() {
    assertError(edit("connect_timeout: 0.25s", "connect_timeout: 0.25s\n    common_lb_config:\n"
            + "      healthy_panic_threshold: { value: 1e999 }"),
        "static_resources.clusters[0].common_lb_config.healthy_panic_threshold: Out of range double value: 1E+999");
  }

  @Test
  void duplicateYamlKey() {
    assertError(edit("stat_prefix: ingress_http", "stat_prefix: ingress_http\n          stat_prefix: again"),
        "invalid YAML: duplicate key 'stat_prefix' at line 12, column 11");
  }

  @Test
  void yamlSyntaxError() {
    assertError("static_resources:\n  clusters: [\n", "invalid YAML: while parsing a flow node expected the node content,"
        + " but found '<stream end>' at line 3, column 1");
  }

  @Test
  void fileNotFound() {
    Path file = dir.resolve("missing.yaml");
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(file, null))
        .isInstanceOf(ConfigException.class).hasMessage(file + ": cannot read file: no such file");
  }

  @Test
  void fileIsADirectory() {
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(dir, null))
        .isInstanceOf(ConfigException.class).hasMessage(dir + ": cannot read file: is a directory");
  }

  @Test
  void emptyFile() {
    assertError("", "empty configuration");
    assertError("# only a comment\n", "empty configuration");
  }

  @Test
  void notAMapping() {
    assertError("- a\n- b\n", "the configuration must be a mapping of envoy.config.bootstrap.v3.Bootstrap fields, got a list");
    assertError("hello\n", "the configuration must be a mapping of envoy.config.bootstrap.v3.Bootstrap fields,"
        + " got the string 'hello'");
  }

  @Test
  void jsonFile() {
    Path file = write("envoy.json", "{\"static_resources\": {\"clusters\": [{\"name\": \"a\", \"connect_timeout\": \"1s\","
        + " \"type\": \"EDS\"}]}}");
    Bootstrap b = ConfigLoader.loadBootstrap(file, null);
    assertThat(b.getStaticResources().getClusters(0).getType()).isEqualTo(Cluster.DiscoveryType.EDS);
  }

  @Test
  void invalidJsonFile() {
    Path file = write("envoy.json", "{\"static_resources\": {\"clusters\": [}\n}");
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(file, null))
        .isInstanceOf(ConfigException.class).hasMessage(file + ": invalid JSON: invalid value at line 1, column 36");
  }

  @Test
  void jsonBooleanInStringFieldHasNoYamlHint() {
    Path file = write("envoy.json", "{\"node\": {\"id\": true}}");
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(file, null))
        .isInstanceOf(ConfigException.class).hasMessage(file + ": node.id: expected a string, got the boolean true");
  }

  @Test
  void overlayIsMergedOverTheFile() {
    Path file = write("envoy.yaml", base());
    Bootstrap b = ConfigLoader.loadBootstrap(file, "node: { id: n1 }\nstatic_resources:\n  clusters:\n"
        + "  - name: extra\n    type: EDS\n    connect_timeout: 1s\n");
    assertThat(b.getNode().getId()).isEqualTo("n1");
    assertThat(b.getStaticResources().getClustersList()).extracting(Cluster::getName).containsExactly("service", "extra");
    assertThat(b.getStaticResources().getListenersCount()).isEqualTo(1);
  }

  @Test
  void overlayAloneIsTheWholeConfig() {
    Bootstrap b = ConfigLoader.loadBootstrap(null, "node: { id: n1, cluster: c1 }");
    assertThat(b.getNode().getCluster()).isEqualTo("c1");
  }

  @Test
  void overlayMayBeAYamlFlowMapping() {
    assertThat(ConfigLoader.loadBootstrap(null, "{node: {id: n1}}").getNode().getId()).isEqualTo("n1");
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(null, "{\"node\": {\"id\": }"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("--config-yaml: invalid JSON: invalid value at line 1, column 17");
  }

  @Test
  void flowMappingOverlayErrorsAreNotPrefixedTwice() {
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(null, "{node: {idd: n1}}"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("--config-yaml: node.idd: unknown field \"idd\" in envoy.config.core.v3.Node");
  }

  @Test
  void binaryAndTextProtoFiles() throws IOException {
    Bootstrap b = load(base());
    Path pb = dir.resolve("envoy.pb");
    Files.write(pb, b.toByteArray());
    assertThat(ConfigLoader.loadBootstrap(pb, null)).isEqualTo(b);
    Path text = write("envoy.pb_text", "node { id: \"n1\" }");
    assertThat(ConfigLoader.loadBootstrap(text, null).getNode().getId()).isEqualTo("n1");
    Path badText = write("bad.pb_text", "node { idd: \"n1\" }");
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(badText, null))
        .isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(badText + ": invalid text proto: 1:8: ");
  }

  @Test
  void overlayErrorsNameTheOverlay() {
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(null, "node: { idd: n1 }"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("--config-yaml: node.idd: unknown field \"idd\" in envoy.config.core.v3.Node");
  }

  @Test
  void errorsFromTheMergedConfigNameBothSources() {
    Path file = write("envoy.yaml", base());
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(file, "static_resources:\n  clusters:\n"
        + "  - name: service\n    type: EDS\n    connect_timeout: 1s\n"))
        .isInstanceOf(ConfigException.class)
        .hasMessage(file + " + --config-yaml: static_resources.clusters[1].name: duplicate cluster name 'service'"
            + " (also used by static_resources.clusters[0])");
  }

  @Test
  void noConfigurationAtAll() {
    assertThatThrownBy(() -> ConfigLoader.loadBootstrap(null, null))
        .isInstanceOf(ConfigException.class)
        .hasMessage("no configuration: give a config file (-c) or --config-yaml");
  }

  @Test
  void parseUsesTheSourceName() {
    assertThatThrownBy(() -> ConfigLoader.parse("prefix: /\nbogus: 1\n", RouteMatch.newBuilder(), "routes.yaml"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("routes.yaml: bogus: unknown field \"bogus\" in envoy.config.route.v3.RouteMatch");
    assertThat(ConfigLoader.parse("{\"prefix\": \"/a\"}", RouteMatch.newBuilder(), "r.json").getPrefix()).isEqualTo("/a");
  }

  @Test
  void unpackChecksTheTypeUrl() {
    Any any = Any.pack(Router.getDefaultInstance());
    assertThat(ConfigLoader.unpack(any, Router.class, "typed_config")).isEqualTo(Router.getDefaultInstance());
    assertThatThrownBy(() -> ConfigLoader.unpack(any, HttpConnectionManager.class, "filters[0].typed_config"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("filters[0].typed_config: expected type 'type.googleapis.com/envoy.extensions.filters.network"
            + ".http_connection_manager.v3.HttpConnectionManager', got 'type.googleapis.com/envoy.extensions.filters"
            + ".http.router.v3.Router'");
    assertThatThrownBy(() -> ConfigLoader.unpack(Any.getDefaultInstance(), Router.class, "typed_config"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("typed_config: expected a typed config of type 'type.googleapis.com/envoy.extensions.filters.http"
            + ".router.v3.Router', but '@type' is not set");
  }

  @Test
  void unpackConvertsTypedStructs() {
    Bootstrap b = load(edit("\"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        "\"@type\": type.googleapis.com/xds.type.v3.TypedStruct\n"
            + "              type_url: type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n"
            + "              value: { suppress_envoy_headers: true }"));
    HttpConnectionManager hcm = ConfigLoader.unpack(
        b.getStaticResources().getListeners(0).getFilterChains(0).getFilters(0).getTypedConfig(),
        HttpConnectionManager.class, HCM);
    Any typedStruct = hcm.getHttpFilters(0).getTypedConfig();
    assertThat(ConfigLoader.unpack(typedStruct, Router.class, "http_filters[0].typed_config").getSuppressEnvoyHeaders())
        .isTrue();
    assertThatThrownBy(() -> ConfigLoader.unpack(typedStruct, HttpConnectionManager.class, "http_filters[0].typed_config"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("http_filters[0].typed_config.type_url: expected type 'type.googleapis.com/envoy.extensions.filters"
            + ".network.http_connection_manager.v3.HttpConnectionManager', got 'type.googleapis.com/envoy.extensions"
            + ".filters.http.router.v3.Router'");

    Any bad = Any.pack(com.github.udpa.udpa.type.v1.TypedStruct.newBuilder()
        .setTypeUrl("type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")
        .setValue(com.google.protobuf.Struct.newBuilder().putFields("bogus",
            com.google.protobuf.Value.newBuilder().setBoolValue(true).build())).build());
    assertThatThrownBy(() -> ConfigLoader.unpack(bad, Router.class, "typed_config"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("typed_config.value.bogus: unknown field \"bogus\" in envoy.extensions.filters.http.router.v3.Router");
  }

  @Test
  void typeRegistryHoldsResolvedTypes() throws Exception {
    load(base());
    assertThat(ConfigLoader.typeRegistry().find("envoy.extensions.filters.http.router.v3.Router")).isNotNull();
    assertThat(ConfigLoader.typeRegistry().find(
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager")).isNotNull();
  }

  @Test
  void resolvesWellKnownAndXdsTypes() {
    assertThat(ConfigLoader.resolveType("type.googleapis.com/google.protobuf.StringValue"))
        .isEqualTo(com.google.protobuf.StringValue.getDefaultInstance());
    assertThat(ConfigLoader.resolveType("type.googleapis.com/xds.type.v3.TypedStruct").getDescriptorForType().getFullName())
        .isEqualTo("xds.type.v3.TypedStruct");
    assertThat(ConfigLoader.resolveType("type.googleapis.com/udpa.type.v1.TypedStruct").getDescriptorForType().getFullName())
        .isEqualTo("udpa.type.v1.TypedStruct");
    assertThat(ConfigLoader.resolveType("type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions")
        .getDescriptorForType().getFullName()).isEqualTo("envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    assertThat(ConfigLoader.resolveType("type.googleapis.com/envoy.config.cluster.v3.Cluster.CommonLbConfig")
        .getDescriptorForType().getFullName()).isEqualTo("envoy.config.cluster.v3.Cluster.CommonLbConfig");
    assertThat(ConfigLoader.resolveType("type.googleapis.com/envoy.nope.v3.Nope")).isNull();
  }

  @Test
  void anyHoldingAWellKnownType() {
    Bootstrap b = load(edit("connect_timeout: 0.25s", "connect_timeout: 0.25s\n    typed_extension_protocol_options:\n"
        + "      x: { \"@type\": type.googleapis.com/google.protobuf.StringValue, value: hello }"));
    Any any = b.getStaticResources().getClusters(0).getTypedExtensionProtocolOptionsOrThrow("x");
    assertThat(ConfigLoader.unpack(any, com.google.protobuf.StringValue.class, "x").getValue()).isEqualTo("hello");
  }
}
