package io.legate.router;

import static io.legate.router.Fixtures.req;
import static org.assertj.core.api.Assertions.assertThat;

import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class HeaderMutationsTest {
  private static String add(String key, String value, String action) {
    return "{\"header\":{\"key\":\"" + key + "\",\"value\":\"" + value + "\"}"
        + (action == null ? "" : ",\"append_action\":\"" + action + "\"") + "}";
  }

  private static Route route(String routeExtra, String vhExtra, String rcExtra) {
    RouteTable t = Fixtures.table("{" + rcExtra + "\"virtual_hosts\":[{\"name\":\"v\",\"domains\":[\"*\"]" + vhExtra
        + ",\"routes\":[{\"match\":{\"prefix\":\"/\"},\"route\":{\"cluster\":\"c\"}" + routeExtra + "}]}]}");
    return t.route(req("/"), 0);
  }

  private static List<String> all(Http2Headers h, String name) {
    return h.getAll(name).stream().map(CharSequence::toString).collect(Collectors.toList());
  }

  @Test
  void appendActions() {
    Route r = route(",\"request_headers_to_add\":["
        + add("x-append", "new", null) + ","
        + add("x-absent", "new", "ADD_IF_ABSENT") + ","
        + add("x-absent2", "new", "ADD_IF_ABSENT") + ","
        + add("x-over", "new", "OVERWRITE_IF_EXISTS_OR_ADD") + ","
        + add("x-over2", "new", "OVERWRITE_IF_EXISTS_OR_ADD") + ","
        + add("x-ifexists", "new", "OVERWRITE_IF_EXISTS") + ","
        + add("x-ifexists2", "new", "OVERWRITE_IF_EXISTS") + "]", "", "");
    Http2Headers h = req("/", "x-append", "old", "x-absent", "old", "x-over", "old1", "x-over", "old2",
        "x-ifexists", "old");
    r.requestHeaderMutations().apply(h, Fixtures.info());
    assertThat(all(h, "x-append")).containsExactly("old", "new");
    assertThat(all(h, "x-absent")).containsExactly("old");
    assertThat(all(h, "x-absent2")).containsExactly("new");
    assertThat(all(h, "x-over")).containsExactly("new");
    assertThat(all(h, "x-over2")).containsExactly("new");
    assertThat(all(h, "x-ifexists")).containsExactly("new");
    assertThat(h.contains("x-ifexists2")).isFalse();
  }

  @Test
  void deprecatedAppendAndEmptyValues() {
    Route r = route(",\"request_headers_to_add\":["
        + "{\"header\":{\"key\":\"x-a\",\"value\":\"new\"},\"append\":false},"
        + "{\"header\":{\"key\":\"x-b\",\"value\":\"new\"},\"append\":true},"
        + "{\"header\":{\"key\":\"x-empty\",\"value\":\"\"}},"
        + "{\"header\":{\"key\":\"x-kept\",\"value\":\"\"},\"keep_empty_value\":true},"
        + "{\"header\":{\"key\":\"x-missing\",\"value\":\"%UPSTREAM_HOST%\"}},"
        + "{\"header\":{\"key\":\"X-Raw\",\"raw_value\":\"cmF3\"}}]", "", "");
    Http2Headers h = req("/", "x-a", "old", "x-b", "old");
    r.requestHeaderMutations().apply(h, Fixtures.info());
    assertThat(all(h, "x-a")).containsExactly("new");
    assertThat(all(h, "x-b")).containsExactly("old", "new");
    assertThat(h.contains("x-empty")).isFalse();
    assertThat(all(h, "x-kept")).containsExactly("");
    assertThat(h.contains("x-missing")).isFalse();
    assertThat(all(h, "x-raw")).containsExactly("raw");
  }

  @Test
  void removeBeforeAddAndFormattersSeeOriginalHeaders() {
    Route r = route(",\"request_headers_to_remove\":[\"x-gone\",\"X-Replaced\"],\"request_headers_to_add\":["
        + add("x-replaced", "%REQ(x-replaced)%", null) + ","
        + add("x-copy", "%REQ(x-src)%", null) + ","
        + add("x-src", "changed", "OVERWRITE_IF_EXISTS_OR_ADD") + "]", "", "");
    Http2Headers h = req("/", "x-gone", "1", "x-replaced", "old", "x-src", "orig");
    r.requestHeaderMutations().apply(h, Fixtures.info());
    assertThat(h.contains("x-gone")).isFalse();
    // Removal happens first, so %REQ(x-replaced)% is empty and nothing is added.
    assertThat(h.contains("x-replaced")).isFalse();
    assertThat(all(h, "x-copy")).containsExactly("orig");
    assertThat(all(h, "x-src")).containsExactly("changed");
  }

  @Test
  void aFormattedValueThatCannotBeAHeaderValueIsLeftOut() {
    // Dynamic metadata is whatever a service (ext_authz, say) wrote: it may hold CR LF.
    Route r = route(",\"request_headers_to_add\":["
        + add("x-meta", "%DYNAMIC_METADATA(authz:user)%", null) + ","
        + add("x-tier", "%DYNAMIC_METADATA(authz:tier)%", null) + "]", "", "");
    StreamInfo info = Fixtures.info();
    info.setDynamicMetadata("authz", com.google.protobuf.Struct.newBuilder()
        .putFields("user", com.google.protobuf.Value.newBuilder().setStringValue("bob\r\nx-admin: true").build())
        .putFields("tier", com.google.protobuf.Value.newBuilder().setStringValue("gold").build())
        .build());
    Http2Headers h = req("/");
    r.requestHeaderMutations().apply(h, info);
    assertThat(h.contains("x-meta")).isFalse();
    assertThat(all(h, "x-tier")).containsExactly("gold");
  }

  @Test
  void orderRouteVirtualHostRouteConfigurationLaterWins() {
    String rt = ",\"request_headers_to_add\":[" + add("x-o", "route", "OVERWRITE_IF_EXISTS_OR_ADD") + ","
        + add("x-l", "route", null) + "],\"response_headers_to_add\":[" + add("x-o", "route", "OVERWRITE_IF_EXISTS_OR_ADD") + "]";
    String vh = ",\"request_headers_to_add\":[" + add("x-o", "vhost", "OVERWRITE_IF_EXISTS_OR_ADD") + ","
        + add("x-l", "vhost", null) + "],\"response_headers_to_add\":[" + add("x-o", "vhost", "OVERWRITE_IF_EXISTS_OR_ADD") + "]";
    String rc = "\"request_headers_to_add\":[" + add("x-o", "global", "OVERWRITE_IF_EXISTS_OR_ADD") + ","
        + add("x-l", "global", null) + "],\"response_headers_to_add\":[" + add("x-o", "global", "OVERWRITE_IF_EXISTS_OR_ADD") + "],";
    Http2Headers h = req("/");
    route(rt, vh, rc).requestHeaderMutations().apply(h, Fixtures.info());
    assertThat(all(h, "x-o")).containsExactly("global");
    assertThat(all(h, "x-l")).containsExactly("route", "vhost", "global");
    Http2Headers resp = new DefaultHttp2Headers().status("200");
    StreamInfo info = Fixtures.info();
    info.setRequestHeaders(req("/"));
    route(rt, vh, rc).responseHeaderMutations().apply(resp, info);
    assertThat(all(resp, "x-o")).containsExactly("global");

    h = req("/");
    route(rt, vh, "\"most_specific_header_mutations_wins\":true," + rc).requestHeaderMutations().apply(h, Fixtures.info());
    assertThat(all(h, "x-o")).containsExactly("route");
    assertThat(all(h, "x-l")).containsExactly("global", "vhost", "route");
  }

  @Test
  void responseFormattersReadRequestFromStreamInfo() {
    Route r = route(",\"response_headers_to_add\":[" + add("x-req", "%REQ(:PATH)%", null) + ","
        + add("x-resp", "%RESP(:STATUS)%", null) + "]", "", "");
    StreamInfo info = Fixtures.info();
    info.setRequestHeaders(req("/orig"));
    Http2Headers resp = new DefaultHttp2Headers().status("404");
    r.responseHeaderMutations().apply(resp, info);
    assertThat(all(resp, "x-req")).containsExactly("/orig");
    assertThat(all(resp, "x-resp")).containsExactly("404");
    assertThat(HeaderMutations.EMPTY.isEmpty()).isTrue();
    assertThat(r.responseHeaderMutations().isEmpty()).isFalse();
  }
}
