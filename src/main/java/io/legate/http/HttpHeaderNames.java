package io.legate.http;

import io.netty.util.AsciiString;

/** Header names the proxy reads or writes, as cached lowercase {@link AsciiString}s. */
public final class HttpHeaderNames {
  private HttpHeaderNames() {}

  public static final AsciiString CONTENT_TYPE = AsciiString.cached("content-type");
  public static final AsciiString CONTENT_LENGTH = AsciiString.cached("content-length");
  public static final AsciiString HOST = AsciiString.cached("host");
  public static final AsciiString CONNECTION = AsciiString.cached("connection");
  public static final AsciiString KEEP_ALIVE = AsciiString.cached("keep-alive");
  public static final AsciiString PROXY_CONNECTION = AsciiString.cached("proxy-connection");
  public static final AsciiString TRANSFER_ENCODING = AsciiString.cached("transfer-encoding");
  public static final AsciiString UPGRADE = AsciiString.cached("upgrade");
  public static final AsciiString TE = AsciiString.cached("te");
  public static final AsciiString EXPECT = AsciiString.cached("expect");
  public static final AsciiString SERVER = AsciiString.cached("server");
  public static final AsciiString DATE = AsciiString.cached("date");
  public static final AsciiString VIA = AsciiString.cached("via");
  public static final AsciiString LOCATION = AsciiString.cached("location");
  public static final AsciiString X_FORWARDED_FOR = AsciiString.cached("x-forwarded-for");
  public static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("x-forwarded-proto");
  public static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
  public static final AsciiString X_ENVOY_INTERNAL = AsciiString.cached("x-envoy-internal");
  public static final AsciiString X_ENVOY_EXTERNAL_ADDRESS = AsciiString.cached("x-envoy-external-address");
  public static final AsciiString X_ENVOY_UPSTREAM_SERVICE_TIME = AsciiString.cached("x-envoy-upstream-service-time");
  public static final AsciiString X_ENVOY_EXPECTED_RQ_TIMEOUT_MS = AsciiString.cached("x-envoy-expected-rq-timeout-ms");
  public static final AsciiString X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS = AsciiString.cached("x-envoy-upstream-rq-timeout-ms");
  public static final AsciiString X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS = AsciiString.cached("x-envoy-upstream-rq-per-try-timeout-ms");
  public static final AsciiString X_ENVOY_ORIGINAL_PATH = AsciiString.cached("x-envoy-original-path");
  public static final AsciiString X_ENVOY_DECORATOR_OPERATION = AsciiString.cached("x-envoy-decorator-operation");
  public static final AsciiString X_ENVOY_RETRY_ON = AsciiString.cached("x-envoy-retry-on");
  public static final AsciiString X_ENVOY_RETRY_GRPC_ON = AsciiString.cached("x-envoy-retry-grpc-on");
  public static final AsciiString X_ENVOY_MAX_RETRIES = AsciiString.cached("x-envoy-max-retries");
  public static final AsciiString X_ENVOY_HEDGE_ON_PER_TRY_TIMEOUT = AsciiString.cached("x-envoy-hedge-on-per-try-timeout");
  public static final AsciiString X_ENVOY_FORCE_TRACE = AsciiString.cached("x-envoy-force-trace");
  public static final AsciiString X_ENVOY_DOWNSTREAM_SERVICE_CLUSTER = AsciiString.cached("x-envoy-downstream-service-cluster");
  public static final AsciiString X_ENVOY_DOWNSTREAM_SERVICE_NODE = AsciiString.cached("x-envoy-downstream-service-node");
  public static final AsciiString X_ENVOY_IP_TAGS = AsciiString.cached("x-envoy-ip-tags");
  public static final AsciiString X_ENVOY_OVERLOADED = AsciiString.cached("x-envoy-overloaded");
}
