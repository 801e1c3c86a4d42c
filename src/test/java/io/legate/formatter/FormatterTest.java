package io.legate.formatter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.legate.config.ConfigException;
import io.legate.http.ResponseFlag;
import io.legate.http.StreamInfo;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class FormatterTest {
  // 2023-11-14T22:13:20.123Z
  private static final long START_MS = 1_700_000_000_123L;
  private static final long START_NANOS = 5_000_000_000L;

  private static StreamInfo info() throws Exception {
    StreamInfo i = new StreamInfo(START_MS, START_NANOS,
        new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 45678),
        new InetSocketAddress(InetAddress.getByName("::1"), 8443), "HTTP/2");
    Http2Headers req = new DefaultHttp2Headers().method("GET").path("/p?q").authority("a.com");
    req.add("x-b", "bee");
    i.setRequestHeaders(req);
    i.setResponseHeaders(new DefaultHttp2Headers().status("200").add("x-up", "7"));
    return i;
  }

  private static String fmt(String format) throws Exception {
    return Formatter.parse(format, "f").format(info(), info().requestHeaders(),
        info().responseHeaders(), START_NANOS + 42_500_000L);
  }

  @Test
  void commands() throws Exception {
    StreamInfo i = info();
    assertThat(fmt("%DOWNSTREAM_REMOTE_ADDRESS%")).isEqualTo("10.1.2.3:45678");
    assertThat(fmt("%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%")).isEqualTo("10.1.2.3");
    assertThat(fmt("%DOWNSTREAM_LOCAL_ADDRESS%")).isEqualTo("[::1]:8443");
    assertThat(fmt("%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%")).isEqualTo("::1");
    assertThat(fmt("%PROTOCOL%")).isEqualTo("HTTP/2");
    assertThat(fmt("%DURATION%")).isEqualTo("42");
    assertThat(fmt("%RESPONSE_CODE%")).isEqualTo("0");
    assertThat(fmt("%RESPONSE_FLAGS%")).isEqualTo("-");
    assertThat(fmt("%BYTES_RECEIVED% %BYTES_SENT%")).isEqualTo("0 0");
    assertThat(fmt("%UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME%")).isEqualTo("- - -");
    assertThat(fmt("%HOSTNAME%")).isEqualTo(InetAddress.getLocalHost().getHostName());
    assertThat(fmt("100%% %%d")).isEqualTo("100% %d");
    assertThat(fmt("")).isEmpty();

    i.setResponseCode(503);
    i.addResponseFlag(ResponseFlag.NO_HEALTHY_UPSTREAM);
    i.addResponseFlag(ResponseFlag.UPSTREAM_OVERFLOW);
    i.setUpstreamHost("10.0.0.9:80");
    i.setUpstreamCluster("backend");
    i.setRouteName("r1");
    i.addBytesReceived(10);
    i.addBytesSent(2048);
    Formatter f = Formatter.parse(
        "[%RESPONSE_CODE%] %RESPONSE_FLAGS% %UPSTREAM_HOST% %UPSTREAM_CLUSTER% %ROUTE_NAME% %BYTES_RECEIVED% %BYTES_SENT%", "f");
    assertThat(f.format(i)).isEqualTo("[503] UH,UO 10.0.0.9:80 backend r1 10 2048");
  }

  @Test
  void requestAndResponseHeaders() throws Exception {
    assertThat(fmt("%REQ(:PATH)% %REQ(X-B)% %REQ(x-missing)%")).isEqualTo("/p?q bee -");
    assertThat(fmt("%REQ(X-MISSING?X-B)%")).isEqualTo("bee");
    assertThat(fmt("%REQ(X-B?:PATH)%")).isEqualTo("bee");
    assertThat(fmt("%REQ(:PATH):2%")).isEqualTo("/p");
    assertThat(fmt("%RESP(X-UP)% %RESP(:STATUS)% %RESP(nope)%")).isEqualTo("7 200 -");
  }

  @Test
  void omitEmptyValuesForHeaders() throws Exception {
    Formatter f = Formatter.parse("a%REQ(x-missing)%b%UPSTREAM_HOST%c", "f", true);
    assertThat(f.format(info())).isEqualTo("abc");
    assertThat(Formatter.parse("plain", "f", true).isConstant()).isTrue();
    assertThat(Formatter.parse("%PROTOCOL%", "f", true).isConstant()).isFalse();
  }

  @Test
  void startTime() throws Exception {
    assertThat(fmt("%START_TIME%")).isEqualTo("2023-11-14T22:13:20.123Z");
    assertThat(fmt("%START_TIME(%Y-%m-%dT%H:%M:%S%z)%")).isEqualTo("2023-11-14T22:13:20+0000");
    assertThat(fmt("%START_TIME(%s)%")).isEqualTo("1700000000");
    assertThat(fmt("%START_TIME(%s.%3f)%")).isEqualTo("1700000000.123");
    assertThat(fmt("%START_TIME(%f)%")).isEqualTo("123000000");
    assertThat(fmt("%START_TIME(%6f|%1f)%")).isEqualTo("123000|1");
    assertThat(fmt("%START_TIME(%E6S|%E3S)%")).isEqualTo("20.123000|20.123");
    assertThat(fmt("%START_TIME(%a %d %b %Y %T %Z)%")).isEqualTo("Tue 14 Nov 2023 22:13:20 UTC");
    assertThat(fmt("%START_TIME(%F %j %y %e %I%p)%")).isEqualTo("2023-11-14 318 23 14 10PM");
  }

  @Test
  void errors() {
    assertThatThrownBy(() -> Formatter.parse("%NOPE%", "log_format"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("log_format: Not supported field in StreamInfo: NOPE");
    assertThatThrownBy(() -> Formatter.parse("abc %", "p"))
        .hasMessage("p: Incorrect configuration: abc %. Couldn't find valid command at position 4");
    assertThatThrownBy(() -> Formatter.parse("%req(x)%", "p"))
        .hasMessage("p: Incorrect configuration: %req(x)%. Couldn't find valid command at position 0");
    assertThatThrownBy(() -> Formatter.parse("%REQ%", "p")).hasMessage("p: REQ requires parameters");
    assertThatThrownBy(() -> Formatter.parse("%REQ(a?b?c)%", "p"))
        .hasMessage("p: More than 1 alternative header specified in token: a?b?c");
    assertThatThrownBy(() -> Formatter.parse("%PROTOCOL(x)%", "p"))
        .hasMessage("p: PROTOCOL does not take parameters");
    assertThatThrownBy(() -> Formatter.parse("%START_TIME(%Q)%", "p"))
        .hasMessage("p: unsupported time format specifier '%Q' in '%Q'");
  }

  @Test
  void ipv6Canonical() throws Exception {
    assertThat(Formatter.ipString(InetAddress.getByName("2001:db8:0:0:1:0:0:1"))).isEqualTo("2001:db8::1:0:0:1");
    assertThat(Formatter.ipString(InetAddress.getByName("::"))).isEqualTo("::");
    assertThat(Formatter.ipString(InetAddress.getByName("fe80:0:0:0:0:0:0:1"))).isEqualTo("fe80::1");
    assertThat(Formatter.ipString(InetAddress.getByName("1:0:2:0:3:0:4:0"))).isEqualTo("1:0:2:0:3:0:4:0");
  }

  @Test
  void filterStateRendersPlainOrTypedAndRefusesFieldAccess() throws Exception {
    StreamInfo i = info();
    i.setFilterState("k", new io.legate.http.FilterState.StateObject() {
      @Override
      public com.google.protobuf.Message serializeAsProto() {
        return com.google.protobuf.UInt64Value.of(3);
      }

      @Override
      public String serializeAsString() {
        return "three";
      }
    });
    Formatter f = Formatter.parse("%FILTER_STATE(k:PLAIN)% %FILTER_STATE(k)% %FILTER_STATE(other)%", "f");
    assertThat(f.format(i, i.requestHeaders(), i.responseHeaders(), START_NANOS)).isEqualTo("three \"3\" -");
    assertThatThrownBy(() -> Formatter.parse("%FILTER_STATE(k:JSON)%", "f"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f: Invalid filter state serialize type, only support PLAIN/TYPED: JSON");
    assertThatThrownBy(() -> Formatter.parse("%FILTER_STATE(k:TYPED:field)%", "f"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("f: FILTER_STATE field access (k:TYPED:field) is not supported");
  }

  @Test
  void trailersWithFallbackAndTruncation() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse("%TRAILER(grpc-status)% %TRAILER(x-none?grpc-message)% %TRAILER(grpc-message):3%", "f");
    assertThat(f.format(i)).isEqualTo("- - -");
    i.setResponseTrailers(new DefaultHttp2Headers().add("grpc-status", "0").add("grpc-message", "fine"));
    assertThat(f.format(i)).isEqualTo("0 fine fin");
    assertThatThrownBy(() -> Formatter.parse("%TRAILER%", "p")).hasMessage("p: TRAILER requires parameters");
  }

  @Test
  void requestAndResponseDurations() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse("%REQUEST_DURATION% %RESPONSE_DURATION% %RESPONSE_TX_DURATION%", "f");
    assertThat(f.format(i)).isEqualTo("- - -");
    i.onLastDownstreamRxByte(START_NANOS + 3_900_000L);
    assertThat(f.format(i)).isEqualTo("3 - -");
    i.onFirstUpstreamRxByte(START_NANOS + 17_000_000L);
    i.onFirstUpstreamRxByte(START_NANOS + 99_000_000L); // first one counts
    assertThat(f.format(i)).isEqualTo("3 17 -");
    i.onLastDownstreamTxByte(START_NANOS + 30_500_000L);
    assertThat(f.format(i)).isEqualTo("3 17 13");
  }

  @Test
  void upstreamAddressesAndTransportFailureReason() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse(
        "%UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_LOCAL_ADDRESS_WITHOUT_PORT% %UPSTREAM_LOCAL_PORT% "
            + "%UPSTREAM_REMOTE_ADDRESS% %UPSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %UPSTREAM_REMOTE_PORT% "
            + "%UPSTREAM_TRANSPORT_FAILURE_REASON%", "f");
    assertThat(f.format(i)).isEqualTo("- - - - - - -");
    // Before a connection: the remote address is the chosen host's.
    i.setUpstreamHost("10.0.0.9:8080");
    i.setUpstreamTransportFailureReason("TLS error: 268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED");
    assertThat(f.format(i)).isEqualTo(
        "- - - 10.0.0.9:8080 10.0.0.9 8080 TLS_error:_268435581:SSL_routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED");
    i.setUpstreamAddresses(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 40001),
        new InetSocketAddress(InetAddress.getByName("::1"), 9000));
    i.setUpstreamTransportFailureReason(null);
    assertThat(f.format(i)).isEqualTo("127.0.0.1:40001 127.0.0.1 40001 [::1]:9000 ::1 9000 -");
  }

  @Test
  void requestedServerNameAndConnectionId() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse("%REQUESTED_SERVER_NAME% %CONNECTION_ID%", "f");
    assertThat(f.format(i)).isEqualTo("- -");
    io.netty.channel.embedded.EmbeddedChannel a = new io.netty.channel.embedded.EmbeddedChannel();
    io.netty.channel.embedded.EmbeddedChannel b = new io.netty.channel.embedded.EmbeddedChannel();
    try {
      long idA = io.legate.network.DownstreamConnections.assignId(a);
      assertThat(io.legate.network.DownstreamConnections.id(a)).isEqualTo(idA);
      long idB = io.legate.network.DownstreamConnections.assignId(b);
      assertThat(idB).isGreaterThan(idA);
      i.setDownstreamConnection(a);
      assertThat(f.format(i)).isEqualTo("- " + idA);
      io.legate.network.DownstreamConnections.setRequestedServerName(a, "");
      assertThat(f.format(i)).isEqualTo("- " + idA);
      io.legate.network.DownstreamConnections.setRequestedServerName(a, "api.example.com");
      assertThat(f.format(i)).isEqualTo("api.example.com " + idA);
    } finally {
      a.finishAndReleaseAll();
      b.finishAndReleaseAll();
    }
  }

  @Test
  void traceId() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse("%TRACE_ID%", "f");
    assertThat(f.format(i)).isEqualTo("-");
    i.setTraceId("4bf92f3577b34da6a3ce929d0e0e4736");
    assertThat(f.format(i)).isEqualTo("4bf92f3577b34da6a3ce929d0e0e4736");
  }

  private static com.google.protobuf.Struct struct(String json) throws Exception {
    com.google.protobuf.Struct.Builder b = com.google.protobuf.Struct.newBuilder();
    com.google.protobuf.util.JsonFormat.parser().merge(json, b);
    return b.build();
  }

  @Test
  void dynamicMetadataTextAndJson() throws Exception {
    StreamInfo i = info();
    Formatter f = Formatter.parse(
        "%DYNAMIC_METADATA(ns:user)%|%DYNAMIC_METADATA(ns:n)%|%DYNAMIC_METADATA(ns:obj)%|%DYNAMIC_METADATA(ns:obj:k)%"
            + "|%DYNAMIC_METADATA(ns:user:deeper)%|%DYNAMIC_METADATA(ns:missing)%|%DYNAMIC_METADATA(other)%"
            + "|%DYNAMIC_METADATA(ns:user):3%", "f");
    assertThat(f.format(i)).isEqualTo("-|-|-|-|-|-|-|-");
    i.setDynamicMetadata("ns", struct("{\"user\":\"alice\",\"n\":3,\"obj\":{\"k\":true,\"l\":[1.5,\"x\",null]}}"));
    assertThat(f.format(i)).isEqualTo("alice|3|{\"k\":true,\"l\":[1.5,\"x\",null]}|true|-|-|-|ali");
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns)%", "f").format(i))
        .isEqualTo("{\"user\":\"alice\",\"n\":3,\"obj\":{\"k\":true,\"l\":[1.5,\"x\",null]}}");
    // A later write merges into the namespace, replacing a key.
    i.setDynamicMetadata("ns", struct("{\"user\":\"bob\",\"extra\":\"e\"}"));
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:user)% %DYNAMIC_METADATA(ns:extra)% %DYNAMIC_METADATA(ns:n)%", "f")
        .format(i)).isEqualTo("bob e 3");

    // json_format: typed values.
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:obj)%", "f").formatJson(i))
        .isEqualTo("{\"k\":true,\"l\":[1.5,\"x\",null]}");
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:n)%", "f").formatJson(i)).isEqualTo("3");
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:user)%", "f").formatJson(i)).isEqualTo("\"bob\"");
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:extra):0%", "f").formatJson(i)).isEqualTo("\"\"");
    assertThat(Formatter.parse("%DYNAMIC_METADATA(ns:nope)%", "f").formatJson(i)).isEqualTo("null");
    assertThat(Formatter.parse("u=%DYNAMIC_METADATA(ns:n)%", "f").formatJson(i)).isEqualTo("\"u=3\"");

    assertThatThrownBy(() -> Formatter.parse("%DYNAMIC_METADATA%", "p"))
        .hasMessage("p: DYNAMIC_METADATA requires parameters");
    assertThatThrownBy(() -> Formatter.parse("%DYNAMIC_METADATA(ns::k)%", "p"))
        .hasMessage("p: DYNAMIC_METADATA(ns::k): empty namespace or key");
  }

  @Test
  void jsonValuesKeepTypes() throws Exception {
    StreamInfo i = info();
    i.setResponseCode(200);
    i.addBytesSent(12);
    assertThat(Formatter.parse("%RESPONSE_CODE%", "f").formatJson(i)).isEqualTo("200");
    assertThat(Formatter.parse("%BYTES_SENT%", "f").formatJson(i)).isEqualTo("12");
    assertThat(Formatter.parse("%DOWNSTREAM_REMOTE_PORT%", "f").formatJson(i)).isEqualTo("45678");
    assertThat(Formatter.parse("%REQUEST_DURATION%", "f").formatJson(i)).isEqualTo("null");
    assertThat(Formatter.parse("%REQ(:METHOD)%", "f").formatJson(i)).isEqualTo("\"GET\"");
    assertThat(Formatter.parse("%REQ(:PATH):2%", "f").formatJson(i)).isEqualTo("\"/p\"");
    assertThat(Formatter.parse("%REQ(x-none)%", "f").formatJson(i)).isEqualTo("null");
    assertThat(Formatter.parse("code %RESPONSE_CODE% %REQ(x-none)%", "f").formatJson(i)).isEqualTo("\"code 200 -\"");
    assertThat(Formatter.parse("lit\"", "f").formatJson(i)).isEqualTo("\"lit\\\"\"");
  }
}
