package io.legate.upstream.outlier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.legate.config.ConfigException;
import org.junit.jupiter.api.Test;

class OutlierConfigTest {
  @Test
  void envoyDefaults() {
    assertThat(OutlierConfig.parse(OutlierDetection.getDefaultInstance(), "c.outlier_detection"))
        .isEqualTo(new OutlierConfig(10_000, 30_000, 300_000, 0, 5, 5, 5, false, 10, false,
            100, 0, 100, 100, 100, 0, 0, 5, 100, 1900, 85, 5, 50, true));
  }

  @Test
  void maxEjectionTimeDefaultsToBaseWhenLarger() {
    OutlierConfig c = OutlierConfig.parse(
        OutlierDetection.newBuilder().setBaseEjectionTime(Duration.newBuilder().setSeconds(400)).build(), "p");
    assertThat(c.maxEjectionTimeMs()).isEqualTo(400_000);
  }

  @Test
  void errorsNameTheField() {
    assertThatThrownBy(() -> OutlierConfig.parse(OutlierDetection.newBuilder()
            .setBaseEjectionTime(Duration.newBuilder().setSeconds(10))
            .setMaxEjectionTime(Duration.newBuilder().setSeconds(5)).build(), "clusters[0].outlier_detection"))
        .isInstanceOf(ConfigException.class)
        .hasMessage("clusters[0].outlier_detection: outlier detector's max_ejection_time cannot be smaller than"
            + " base_ejection_time");
    assertThatThrownBy(() -> OutlierConfig.parse(OutlierDetection.newBuilder()
            .setMaxEjectionPercent(UInt32Value.of(101)).build(), "od"))
        .hasMessage("od.max_ejection_percent.value: value must be less than or equal to 100");
    assertThatThrownBy(() -> OutlierConfig.parse(OutlierDetection.newBuilder()
            .setInterval(Duration.newBuilder()).build(), "od"))
        .hasMessage("od.interval: value must be greater than 0s");
    assertThatThrownBy(() -> OutlierConfig.parse(OutlierDetection.newBuilder()
            .addMonitors(io.envoyproxy.envoy.config.core.v3.TypedExtensionConfig.newBuilder().setName("m")).build(), "od"))
        .hasMessage("od.monitors: outlier detection extensions are not supported");
  }
}
