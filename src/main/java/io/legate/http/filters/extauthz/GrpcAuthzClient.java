package io.legate.http.filters.extauthz;

import com.google.protobuf.Timestamp;
import io.envoyproxy.envoy.config.core.v3.Address;
import io.envoyproxy.envoy.config.core.v3.GrpcService;
import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.envoyproxy.envoy.config.core.v3.SocketAddress;
import io.envoyproxy.envoy.service.auth.v3.AttributeContext;
import io.envoyproxy.envoy.service.auth.v3.AuthorizationGrpc;
import io.envoyproxy.envoy.service.auth.v3.CheckRequest;
import io.envoyproxy.envoy.service.auth.v3.CheckResponse;
import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.legate.grpc.GrpcChannels;
import io.legate.http.HttpHeaderNames;
import io.legate.http.StreamInfo;
import io.legate.http.filter.DecoderCallbacks;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * ext_authz's gRPC mode: {@code envoy.service.auth.v3.Authorization/Check} on a shared channel
 * ({@link GrpcChannels}), with the {@code CheckRequest} attributes Envoy fills. The answer arrives
 * on a gRPC thread and is handed back to the stream's worker.
 */
final class GrpcAuthzClient implements AuthzClient {
  static final String PARTIAL_BODY = "x-envoy-auth-partial-body";
  private final GrpcChannels channels;
  private final GrpcService service;
  private final long timeoutMs;
  private final NameMatcher allowedHeaders;
  private final NameMatcher disallowedHeaders;
  private final boolean packAsBytes;

  GrpcAuthzClient(GrpcChannels channels, GrpcService service, long timeoutMs, NameMatcher allowedHeaders,
      NameMatcher disallowedHeaders, boolean packAsBytes) {
    this.packAsBytes = packAsBytes;
    this.channels = channels;
    this.service = service;
    this.timeoutMs = timeoutMs;
    this.allowedHeaders = allowedHeaders;
    this.disallowedHeaders = disallowedHeaders;
  }

  @Override
  public Call check(Http2Headers headers, DecoderCallbacks callbacks, Map<String, String> contextExtensions,
      byte[] body, boolean partialBody, Consumer<AuthzResult> done) {
    CheckRequest request = checkRequest(headers, callbacks.streamInfo(), contextExtensions, allowedHeaders,
        disallowedHeaders, body, partialBody, packAsBytes);
    EventLoop loop = callbacks.eventLoop();
    ManagedChannel channel;
    try {
      channel = channels.channel(service);
    } catch (RuntimeException e) {
      done.accept(AuthzResult.error(false));
      return () -> {};
    }
    CallOptions options = CallOptions.DEFAULT;
    if (timeoutMs > 0) {
      options = options.withDeadlineAfter(timeoutMs, TimeUnit.MILLISECONDS);
    }
    ClientCall<CheckRequest, CheckResponse> call = channel.newCall(AuthorizationGrpc.getCheckMethod(), options);
    ClientCalls.asyncUnaryCall(call, request, new StreamObserver<>() {
      private CheckResponse response;

      @Override
      public void onNext(CheckResponse value) {
        response = value;
      }

      @Override
      public void onError(Throwable t) {
        Status.Code code = Status.fromThrowable(t).getCode();
        if (code == Status.Code.CANCELLED) {
          return;
        }
        loop.execute(() -> done.accept(AuthzResult.error(code == Status.Code.DEADLINE_EXCEEDED)));
      }

      @Override
      public void onCompleted() {
        CheckResponse r = response;
        loop.execute(() -> done.accept(r == null ? AuthzResult.error(false) : toResult(r)));
      }
    });
    return () -> call.cancel("downstream stream ended", null);
  }

  /** Returns the result a CheckResponse stands for: status OK → allowed, else denied (403 unless it says). */
  static AuthzResult toResult(CheckResponse r) {
    AuthzResult result = toResult0(r);
    return r.hasDynamicMetadata() ? result.withDynamicMetadata(r.getDynamicMetadata()) : result;
  }

  private static AuthzResult toResult0(CheckResponse r) {
    if (r.getStatus().getCode() == Status.Code.OK.value()) {
      List<AuthzResult.HeaderOp> up = new ArrayList<>();
      List<AsciiString> remove = new ArrayList<>();
      List<AuthzResult.HeaderOp> client = new ArrayList<>();
      if (r.hasOkResponse()) {
        for (HeaderValueOption o : r.getOkResponse().getHeadersList()) {
          up.add(AuthzResult.HeaderOp.of(o));
        }
        for (String h : r.getOkResponse().getHeadersToRemoveList()) {
          AsciiString n = AsciiString.of(h.toLowerCase(java.util.Locale.ROOT));
          if (!n.isEmpty() && n.charAt(0) != ':' && !n.contentEquals("host")) {
            remove.add(n);
          }
        }
        for (HeaderValueOption o : r.getOkResponse().getResponseHeadersToAddList()) {
          client.add(AuthzResult.HeaderOp.of(o));
        }
      }
      return new AuthzResult(AuthzResult.Kind.OK, false, 0, "", up, remove, client);
    }
    int status = 403;
    String body = "";
    List<AuthzResult.HeaderOp> client = new ArrayList<>();
    if (r.hasDeniedResponse()) {
      int code = r.getDeniedResponse().getStatus().getCodeValue();
      if (code >= 100 && code < 600) {
        status = code;
      }
      body = r.getDeniedResponse().getBody();
      for (HeaderValueOption o : r.getDeniedResponse().getHeadersList()) {
        AuthzResult.HeaderOp op = AuthzResult.HeaderOp.of(o);
        client.add(new AuthzResult.HeaderOp(op.name(), op.value(),
            op.op() == AuthzResult.Op.APPEND ? AuthzResult.Op.ADD : AuthzResult.Op.SET));
      }
    }
    return new AuthzResult(AuthzResult.Kind.DENIED, false, status, body, List.of(), List.of(), client);
  }

  /**
   * Builds the CheckRequest for a request: peers, time, method, path, host, scheme, headers,
   * protocol, and the body when one is given (with {@code x-envoy-auth-partial-body}).
   */
  static CheckRequest checkRequest(Http2Headers h, StreamInfo info, Map<String, String> contextExtensions,
      NameMatcher allowed, NameMatcher disallowed, byte[] body, boolean partialBody, boolean packAsBytes) {
    AttributeContext.HttpRequest.Builder http = AttributeContext.HttpRequest.newBuilder();
    CharSequence id = h.get(HttpHeaderNames.X_REQUEST_ID);
    if (id != null) {
      http.setId(id.toString());
    }
    http.setMethod(str(h.method()));
    http.setPath(str(h.path()));
    http.setHost(str(h.authority()));
    CharSequence scheme = h.scheme();
    if (scheme == null) {
      scheme = h.get(HttpHeaderNames.X_FORWARDED_PROTO);
    }
    http.setScheme(str(scheme));
    http.setProtocol(info.protocol());
    CharSequence cl = h.get("content-length");
    long size = -1;
    if (cl != null) {
      try {
        size = Long.parseLong(cl.toString().trim());
      } catch (NumberFormatException ignored) {
        size = -1;
      }
    }
    http.setSize(size);
    Map<String, String> hs = new LinkedHashMap<>();
    for (Map.Entry<CharSequence, CharSequence> e : h) {
      String name = e.getKey().toString();
      if ((allowed != null && !allowed.matches(name)) || (disallowed != null && disallowed.matches(name))) {
        continue;
      }
      hs.merge(name, e.getValue().toString(), (a, b) -> a + "," + b);
    }
    if (body != null) {
      hs.put(PARTIAL_BODY, partialBody ? "true" : "false");
      if (packAsBytes) {
        http.setRawBody(com.google.protobuf.ByteString.copyFrom(body));
      } else {
        http.setBody(new String(body, java.nio.charset.StandardCharsets.UTF_8));
      }
    }
    http.putAllHeaders(hs);
    long ms = info.startTimeMillis();
    AttributeContext.Request.Builder req = AttributeContext.Request.newBuilder()
        .setTime(Timestamp.newBuilder().setSeconds(ms / 1000).setNanos((int) (ms % 1000) * 1_000_000))
        .setHttp(http);
    AttributeContext.Builder attrs = AttributeContext.newBuilder().setRequest(req);
    if (info.downstreamRemoteAddress() != null) {
      attrs.setSource(AttributeContext.Peer.newBuilder().setAddress(address(info.downstreamRemoteAddress())));
    }
    if (info.downstreamLocalAddress() != null) {
      attrs.setDestination(AttributeContext.Peer.newBuilder().setAddress(address(info.downstreamLocalAddress())));
    }
    if (contextExtensions != null) {
      attrs.putAllContextExtensions(contextExtensions);
    }
    return CheckRequest.newBuilder().setAttributes(attrs).build();
  }

  private static Address address(InetSocketAddress a) {
    String ip = a.getAddress() != null ? a.getAddress().getHostAddress() : a.getHostString();
    return Address.newBuilder()
        .setSocketAddress(SocketAddress.newBuilder().setAddress(ip).setPortValue(a.getPort()))
        .build();
  }

  private static String str(CharSequence s) {
    return s == null ? "" : s.toString();
  }
}
