package io.legate.http.filters.extauthz;

import io.envoyproxy.envoy.config.core.v3.HeaderValueOption;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.util.AsciiString;
import java.util.List;

/**
 * What an authorization service answered, in one shape for the gRPC and HTTP clients (Envoy's
 * {@code ExtAuthz::Response}).
 *
 * @param status the HTTP status of a denial (the local reply), 0 otherwise
 * @param upstreamHeaders header changes for the upstream request (OK)
 * @param headersToRemove request headers to remove (OK)
 * @param clientHeaders headers for the downstream response: the local reply's (denied), or added
 *     to the upstream's response (OK)
 * @param dynamicMetadata the check response's dynamic_metadata, or null
 */
record AuthzResult(
    Kind kind,
    boolean timeout,
    int status,
    String body,
    List<HeaderOp> upstreamHeaders,
    List<AsciiString> headersToRemove,
    List<HeaderOp> clientHeaders,
    com.google.protobuf.Struct dynamicMetadata) {

  AuthzResult(
      Kind kind,
      boolean timeout,
      int status,
      String body,
      List<HeaderOp> upstreamHeaders,
      List<AsciiString> headersToRemove,
      List<HeaderOp> clientHeaders) {
    this(kind, timeout, status, body, upstreamHeaders, headersToRemove, clientHeaders, null);
  }

  /** Returns a copy carrying the check response's dynamic metadata (null or empty: none). */
  AuthzResult withDynamicMetadata(com.google.protobuf.Struct m) {
    return new AuthzResult(kind, timeout, status, body, upstreamHeaders, headersToRemove, clientHeaders, m);
  }

  enum Kind {
    OK,
    DENIED,
    ERROR
  }

  /** How a header is applied. */
  enum Op {
    /** Replaces any value. */
    SET,
    /** Appends to an existing value (comma-joined), else adds. */
    APPEND,
    /** Adds another value. */
    ADD,
    /** Adds only when absent. */
    ADD_IF_ABSENT,
    /** Replaces only when present. */
    OVERWRITE_IF_EXISTS
  }

  /** One header change. */
  record HeaderOp(AsciiString name, String value, Op op) {
    void apply(Http2Headers h) {
      switch (op) {
        case SET -> h.set(name, value);
        case ADD -> h.add(name, value);
        case APPEND -> {
          CharSequence old = h.get(name);
          h.set(name, old == null ? value : old + "," + value);
        }
        case ADD_IF_ABSENT -> {
          if (!h.contains(name)) {
            h.set(name, value);
          }
        }
        case OVERWRITE_IF_EXISTS -> {
          if (h.contains(name)) {
            h.set(name, value);
          }
        }
      }
    }

    /**
     * Returns the change a {@code HeaderValueOption} asks for: the deprecated {@code append} when
     * set (true appends, false replaces), else its {@code append_action}, where the default
     * replaces as Envoy's ext_authz always has.
     */
    static HeaderOp of(HeaderValueOption o) {
      AsciiString name = AsciiString.of(o.getHeader().getKey().toLowerCase(java.util.Locale.ROOT));
      String value = o.getHeader().getValue();
      Op op;
      if (o.hasAppend()) {
        op = o.getAppend().getValue() ? Op.APPEND : Op.SET;
      } else {
        op = switch (o.getAppendAction()) {
          case ADD_IF_ABSENT -> Op.ADD_IF_ABSENT;
          case OVERWRITE_IF_EXISTS -> Op.OVERWRITE_IF_EXISTS;
          default -> Op.SET;
        };
      }
      return new HeaderOp(name, value, op);
    }
  }

  static AuthzResult error(boolean timeout) {
    return new AuthzResult(Kind.ERROR, timeout, 0, "", List.of(), List.of(), List.of());
  }
}
