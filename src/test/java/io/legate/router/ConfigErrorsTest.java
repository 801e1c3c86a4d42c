package io.legate.router;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigErrorsTest {
  private static final String PREFIX = "route_config.virtual_hosts[0].routes[0]";

  private static String one(String route) {
    return "{\"name\":\"rc\",\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],\"routes\":[" + route + "]}]}";
  }

  private static void fails(String route, String message) {
    assertThatThrownBy(() -> Fixtures.table(one(route)))
        .isInstanceOf(ConfigException.class)
        .hasMessage(message);
  }

  private static final String OK_MATCH = "\"match\":{\"prefix\":\"/\"}";

  @Test
  void clusterValidation() {
    String json = "{\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],\"routes\":["
        + "{\"match\":{\"prefix\":\"/a\"},\"route\":{\"cluster\":\"known\"}},"
        + "{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"foo\"}}]}]}";
    assertThatThrownBy(() -> Fixtures.table(json, Set.of("known")))
        .hasMessage("route_config.virtual_hosts[0].routes[1].route.cluster: unknown cluster 'foo'");
    // No predicate: no validation.
    assertThat(Fixtures.table(json)).isNotNull();
    // validate_clusters: false skips it.
    assertThat(Fixtures.table("{\"validate_clusters\":false," + json.substring(1), Set.of())).isNotNull();
    assertThatThrownBy(() -> Fixtures.table(one("{" + OK_MATCH
            + ",\"route\":{\"weighted_clusters\":{\"clusters\":[{\"name\":\"known\",\"weight\":1},{\"name\":\"bar\",\"weight\":1}]}}}"),
        Set.of("known")))
        .hasMessage(PREFIX + ".route.weighted_clusters.clusters[1].name: unknown weighted cluster 'bar'");
  }

  @Test
  void matchErrors() {
    fails("{\"match\":{},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match: one of prefix, path, safe_regex, path_separated_prefix, connect_matcher must be set");
    fails("{\"match\":{\"safe_regex\":{\"regex\":\"a(\"}},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.safe_regex.regex: invalid regex 'a(': Unclosed group");
    fails("{\"match\":{\"safe_regex\":{\"regex\":\"(a)\\\\1\"}},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.safe_regex.regex: invalid regex '(a)\\1': backreferences are not supported");
    fails("{\"match\":{\"safe_regex\":{\"regex\":\"a(?=b)\"}},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.safe_regex.regex: invalid regex 'a(?=b)': lookaround is not supported");
    fails("{\"match\":{\"path_separated_prefix\":\"/api/\"},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.path_separated_prefix: must not be empty, end with '/' or contain '?' or '#': '/api/'");
    fails("{\"match\":{\"connect_matcher\":{}},\"route\":{\"cluster\":\"c\",\"upgrade_configs\":"
            + "[{\"upgrade_type\":\"websocket\",\"connect_config\":{}}]}}",
        PREFIX + ".route.upgrade_configs[0].connect_config: Non-CONNECT upgrade type websocket has ConnectConfig");
    fails("{\"match\":{\"connect_matcher\":{}},\"route\":{\"cluster\":\"c\",\"upgrade_configs\":"
            + "[{\"upgrade_type\":\"CONNECT\",\"connect_config\":{\"allow_post\":true}}]}}",
        PREFIX + ".route.upgrade_configs[0].connect_config.allow_post: not supported");
    fails("{\"match\":{\"connect_matcher\":{}},\"route\":{\"cluster\":\"c\",\"upgrade_configs\":"
            + "[{\"upgrade_type\":\"CONNECT\",\"connect_config\":{\"proxy_protocol_config\":{}}}]}}",
        PREFIX + ".route.upgrade_configs[0].connect_config.proxy_protocol_config: not supported");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\",\"upgrade_configs\":"
            + "[{\"upgrade_type\":\"websocket\"},{\"upgrade_type\":\"WebSocket\"}]}}",
        PREFIX + ".route.upgrade_configs[1].upgrade_type: Duplicate upgrade WebSocket");
    fails("{\"match\":{\"path_match_policy\":{\"name\":\"x\"}},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.path_match_policy: not supported");
    fails("{\"match\":{\"prefix\":\"/\",\"tls_context\":{}},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.tls_context: not supported");
    fails("{\"match\":{\"prefix\":\"/\",\"headers\":[{\"name\":\"x\",\"string_match\":{\"safe_regex\":{\"regex\":\"a\"},\"ignore_case\":true}}]},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.headers[0].string_match.ignore_case: ignore_case has no effect for safe_regex.");
    fails("{\"match\":{\"prefix\":\"/\",\"headers\":[{\"name\":\"\"}]},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.headers[0].name: must not be empty");
    fails("{\"match\":{\"prefix\":\"/\",\"query_parameters\":[{\"name\":\"q\",\"string_match\":{\"prefix\":\"\"}}]},\"route\":{\"cluster\":\"c\"}}",
        PREFIX + ".match.query_parameters[0].string_match.prefix: must not be empty");
  }

  @Test
  void actionErrors() {
    fails("{" + OK_MATCH + "}", PREFIX + ": one of route, redirect, direct_response must be set");
    fails("{" + OK_MATCH + ",\"route\":{}}",
        PREFIX + ".route: one of cluster, cluster_header, weighted_clusters must be set");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\",\"prefix_rewrite\":\"/a\",\"regex_rewrite\":{\"pattern\":{\"regex\":\"a\"},\"substitution\":\"b\"}}}",
        PREFIX + ".route: Specify only one of prefix_rewrite, regex_rewrite or path_rewrite_policy");
    fails("{" + OK_MATCH + ",\"route\":{\"weighted_clusters\":{\"clusters\":[{\"name\":\"a\",\"weight\":0}]}}}",
        PREFIX + ".route.weighted_clusters: Sum of weights in the weighted_cluster must be greater than 0.");
    fails("{" + OK_MATCH + ",\"route\":{\"weighted_clusters\":{\"clusters\":[{\"weight\":1}]}}}",
        PREFIX + ".route.weighted_clusters.clusters[0]: At least one of name or cluster_header need to be specified");
    fails("{" + OK_MATCH + ",\"route\":{\"weighted_clusters\":{\"clusters\":[{\"name\":\"a\",\"cluster_header\":\"h\",\"weight\":1}]}}}",
        PREFIX + ".route.weighted_clusters.clusters[0]: Only one of name or cluster_header can be specified");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster_specifier_plugin\":\"p\"}}",
        PREFIX + ".route.cluster_specifier_plugin: not supported");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\",\"request_mirror_policies\":[{\"cluster\":\"m\"}]}}",
        PREFIX + ".route.request_mirror_policies: not supported");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\",\"regex_rewrite\":{\"pattern\":{\"regex\":\"a\"},\"substitution\":\"\\\\1\"}}}",
        PREFIX + ".route.regex_rewrite.substitution: invalid substitution '\\1': group 1 does not exist");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\",\"retry_policy\":{\"retry_back_off\":{\"base_interval\":\"1s\",\"max_interval\":\"0.5s\"}}}}",
        PREFIX + ".route.retry_policy.retry_back_off.max_interval: retry_policy.max_interval must greater than or equal to the base_interval");
    fails("{" + OK_MATCH + ",\"direct_response\":{\"status\":99}}",
        PREFIX + ".direct_response.status: must be in [200, 600), got 99");
    fails("{" + OK_MATCH + ",\"filter_action\":{}}", PREFIX + ".filter_action: not supported");
  }

  @Test
  void headerMutationErrors() {
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\"},\"request_headers_to_add\":[{\"header\":{\"key\":\":path\",\"value\":\"x\"}}]}",
        PREFIX + ".request_headers_to_add[0].header.key: :-prefixed or host headers may not be modified");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\"},\"response_headers_to_add\":[{\"header\":{\"key\":\"Host\",\"value\":\"x\"}}]}",
        PREFIX + ".response_headers_to_add[0].header.key: :-prefixed or host headers may not be modified");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\"},\"request_headers_to_remove\":[\"x\",\":authority\"]}",
        PREFIX + ".request_headers_to_remove[1]: :-prefixed or host headers may not be removed");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\"},\"request_headers_to_add\":[{\"header\":{\"key\":\"x\",\"value\":\"v\"},\"append\":true,\"append_action\":\"ADD_IF_ABSENT\"}]}",
        PREFIX + ".request_headers_to_add[0]: Both append and append_action are set and it's not allowed");
    fails("{" + OK_MATCH + ",\"route\":{\"cluster\":\"c\"},\"request_headers_to_add\":[{\"header\":{\"key\":\"x\",\"value\":\"%NOPE%\"}}]}",
        PREFIX + ".request_headers_to_add[0].header.value: Not supported field in StreamInfo: NOPE");
    assertThatThrownBy(() -> Fixtures.table("{\"request_headers_to_remove\":[\"host\"],\"virtual_hosts\":[]}"))
        .hasMessage("route_config.request_headers_to_remove[0]: :-prefixed or host headers may not be removed");
  }

  @Test
  void unsupportedTopLevel() {
    assertThatThrownBy(() -> Fixtures.table("{\"vhds\":{}}")).hasMessage("route_config.vhds: not supported");
    assertThatThrownBy(() -> Fixtures.table("{\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"],\"matcher\":{}}]}"))
        .hasMessage("route_config.virtual_hosts[0].matcher: not supported");
  }

  @Test
  void directResponseBodies(@TempDir Path dir) throws Exception {
    RouteTable t = Fixtures.table(one("{" + OK_MATCH + ",\"direct_response\":{\"status\":503,\"body\":{\"inline_string\":\"down\"}}}"));
    DirectResponseAction d = (DirectResponseAction) t.route(Fixtures.req("/"), 0).action();
    assertThat(d.status()).isEqualTo(503);
    assertThat(new String(d.body(), StandardCharsets.UTF_8)).isEqualTo("down");
    t = Fixtures.table(one("{" + OK_MATCH + ",\"direct_response\":{\"status\":204}}"));
    assertThat(((DirectResponseAction) t.route(Fixtures.req("/"), 0).action()).body()).isNull();
    Path f = dir.resolve("body.txt");
    Files.writeString(f, "from file");
    t = Fixtures.table(one("{" + OK_MATCH + ",\"direct_response\":{\"status\":200,\"body\":{\"filename\":\"" + f + "\"}}}"));
    assertThat(((DirectResponseAction) t.route(Fixtures.req("/"), 0).action()).body())
        .isEqualTo("from file".getBytes(StandardCharsets.UTF_8));
    t = Fixtures.table(one("{" + OK_MATCH + ",\"direct_response\":{\"status\":200,\"body\":{\"inline_bytes\":\"AAE=\"}}}"));
    assertThat(((DirectResponseAction) t.route(Fixtures.req("/"), 0).action()).body()).containsExactly(0, 1);
    String big = "x".repeat(4097);
    fails("{" + OK_MATCH + ",\"direct_response\":{\"status\":200,\"body\":{\"inline_string\":\"" + big + "\"}}}",
        PREFIX + ".direct_response.body: response body size is 4097 bytes; maximum is 4096");
    assertThatThrownBy(() -> Fixtures.table("{\"max_direct_response_body_size_bytes\":2,"
            + one("{" + OK_MATCH + ",\"direct_response\":{\"status\":200,\"body\":{\"inline_string\":\"abc\"}}}").substring(1)))
        .hasMessage(PREFIX + ".direct_response.body: response body size is 3 bytes; maximum is 2");
    fails("{" + OK_MATCH + ",\"direct_response\":{\"status\":200,\"body\":{\"filename\":\"" + dir.resolve("missing") + "\"}}}",
        PREFIX + ".direct_response.body.filename: cannot read response body file " + dir.resolve("missing")
            + ": " + dir.resolve("missing"));
  }
}
