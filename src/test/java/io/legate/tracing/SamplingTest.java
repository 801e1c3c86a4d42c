package io.legate.tracing;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.Http2Headers;
import org.junit.jupiter.api.Test;

class SamplingTest {
  // 0x125a4afb % 10000 = 307907323 % 10000 = 7323
  static final String RID = "125a4afb-6f55-44ba-ad80-413f09f48a28";

  private static Http2Headers headers(String... kv) {
    Http2Headers h = new DefaultHttp2Headers();
    for (int i = 0; i < kv.length; i += 2) {
      h.set(kv[i], kv[i + 1]);
    }
    return h;
  }

  @Test
  void randomSamplingUsesTheRequestIdAndPacksTheReason() {
    Http2Headers h = headers("x-request-id", RID);
    assertThat(new Sampling(10000, 7324, 10000).decide(h)).isEqualTo(TraceReason.SAMPLING);
    assertThat(h.get("x-request-id").toString()).isEqualTo("125a4afb-6f55-a4ba-ad80-413f09f48a28");
    Http2Headers h2 = headers("x-request-id", RID);
    assertThat(new Sampling(10000, 7323, 10000).decide(h2)).isEqualTo(TraceReason.NOT_TRACEABLE);
    assertThat(h2.get("x-request-id").toString()).isEqualTo(RID);
  }

  @Test
  void forcedAndClientReasons() {
    Http2Headers forced = headers("x-request-id", RID, "x-envoy-force-trace", "1");
    assertThat(new Sampling(10000, 0, 10000).decide(forced)).isEqualTo(TraceReason.SERVICE_FORCED);
    assertThat(forced.get("x-request-id").toString()).isEqualTo("125a4afb-6f55-94ba-ad80-413f09f48a28");
    Http2Headers client = headers("x-request-id", RID, "x-client-trace-id", "c1", "x-envoy-force-trace", "1");
    assertThat(new Sampling(10000, 0, 10000).decide(client)).isEqualTo(TraceReason.CLIENT_FORCED);
    assertThat(client.get("x-request-id").toString()).isEqualTo("125a4afb-6f55-b4ba-ad80-413f09f48a28");
    Http2Headers clientOff = headers("x-request-id", RID, "x-client-trace-id", "c1");
    assertThat(new Sampling(0, 0, 10000).decide(clientOff)).isEqualTo(TraceReason.NOT_TRACEABLE);
  }

  @Test
  void aReasonAlreadyInTheRequestIdIsKeptAndOverallSamplingVetoes() {
    Http2Headers h = headers("x-request-id", "125a4afb-6f55-a4ba-ad80-413f09f48a28");
    assertThat(new Sampling(10000, 0, 10000).decide(h)).isEqualTo(TraceReason.SAMPLING);
    Http2Headers vetoed = headers("x-request-id", "125a4afb-6f55-94ba-ad80-413f09f48a28");
    assertThat(new Sampling(10000, 10000, 7323).decide(vetoed)).isEqualTo(TraceReason.NOT_TRACEABLE);
    assertThat(vetoed.get("x-request-id").toString()).isEqualTo(RID);
  }

  @Test
  void noUsableRequestIdIsNotTraceable() {
    assertThat(Sampling.ALL.decide(headers())).isEqualTo(TraceReason.NOT_TRACEABLE);
    assertThat(Sampling.ALL.decide(headers("x-request-id", "short"))).isEqualTo(TraceReason.NOT_TRACEABLE);
    assertThat(Sampling.ALL.decide(headers("x-request-id", "zzzzzzzz-1"))).isEqualTo(TraceReason.NOT_TRACEABLE);
    // Not a UUID but starts with 8 hex digits: sampled, nothing packed.
    Http2Headers h = headers("x-request-id", "00000001-abc");
    assertThat(Sampling.ALL.decide(h)).isEqualTo(TraceReason.SAMPLING);
    assertThat(h.get("x-request-id").toString()).isEqualTo("00000001-abc");
  }
}
