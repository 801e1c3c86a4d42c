package io.legate.upstream.outlier;

import com.google.protobuf.Duration;
import com.google.protobuf.UInt32Value;
import io.envoyproxy.envoy.config.cluster.v3.OutlierDetection;
import io.legate.config.ConfigException;

/**
 * The immutable settings of a cluster's outlier detection, built once from Envoy's {@link
 * OutlierDetection} with Envoy's defaults (interval 10 s, base ejection time 30 s, max ejection time
 * 300 s or the base time if larger, 5 consecutive 5xx / gateway / local-origin failures, max
 * ejection 10 %, success rate over 5 hosts × 100 requests with stdev factor 1.9, failure
 * percentage 85 % over 5 hosts × 50 requests; enforcing: 100 % except gateway failures and failure
 * percentage, 0 %).
 */
public record OutlierConfig(
    long intervalMs,
    long baseEjectionTimeMs,
    long maxEjectionTimeMs,
    long maxEjectionTimeJitterMs,
    int consecutive5xx,
    int consecutiveGatewayFailure,
    int consecutiveLocalOriginFailure,
    boolean splitExternalLocalOriginErrors,
    int maxEjectionPercent,
    boolean alwaysEjectOneHost,
    int enforcingConsecutive5xx,
    int enforcingConsecutiveGatewayFailure,
    int enforcingConsecutiveLocalOriginFailure,
    int enforcingSuccessRate,
    int enforcingLocalOriginSuccessRate,
    int enforcingFailurePercentage,
    int enforcingFailurePercentageLocalOrigin,
    int successRateMinimumHosts,
    int successRateRequestVolume,
    int successRateStdevFactor,
    int failurePercentageThreshold,
    int failurePercentageMinimumHosts,
    int failurePercentageRequestVolume,
    boolean successfulActiveHealthCheckUnejectHost) {

  /**
   * Returns the settings of {@code od}.
   *
   * @param path the field path of {@code od}, e.g. {@code static_resources.clusters[0].outlier_detection}
   * @throws ConfigException naming the field of what is invalid or unsupported
   */
  public static OutlierConfig parse(OutlierDetection od, String path) {
    if (od.getMonitorsCount() > 0) {
      throw new ConfigException(path + ".monitors", "outlier detection extensions are not supported");
    }
    long interval = od.hasInterval() ? positive(od.getInterval(), path + ".interval") : 10_000;
    long base =
        od.hasBaseEjectionTime() ? positive(od.getBaseEjectionTime(), path + ".base_ejection_time") : 30_000;
    long max =
        od.hasMaxEjectionTime()
            ? positive(od.getMaxEjectionTime(), path + ".max_ejection_time")
            : Math.max(300_000, base);
    if (max < base) {
      throw new ConfigException(
          path, "outlier detector's max_ejection_time cannot be smaller than base_ejection_time");
    }
    return new OutlierConfig(
        interval,
        base,
        max,
        od.hasMaxEjectionTimeJitter() ? ms(od.getMaxEjectionTimeJitter()) : 0,
        u32(od.hasConsecutive5Xx(), od.getConsecutive5Xx(), 5),
        u32(od.hasConsecutiveGatewayFailure(), od.getConsecutiveGatewayFailure(), 5),
        u32(od.hasConsecutiveLocalOriginFailure(), od.getConsecutiveLocalOriginFailure(), 5),
        od.getSplitExternalLocalOriginErrors(),
        percent(od.hasMaxEjectionPercent(), od.getMaxEjectionPercent(), 10, path + ".max_ejection_percent"),
        od.hasAlwaysEjectOneHost() && od.getAlwaysEjectOneHost().getValue(),
        percent(od.hasEnforcingConsecutive5Xx(), od.getEnforcingConsecutive5Xx(), 100,
            path + ".enforcing_consecutive_5xx"),
        percent(od.hasEnforcingConsecutiveGatewayFailure(), od.getEnforcingConsecutiveGatewayFailure(), 0,
            path + ".enforcing_consecutive_gateway_failure"),
        percent(od.hasEnforcingConsecutiveLocalOriginFailure(),
            od.getEnforcingConsecutiveLocalOriginFailure(), 100,
            path + ".enforcing_consecutive_local_origin_failure"),
        percent(od.hasEnforcingSuccessRate(), od.getEnforcingSuccessRate(), 100,
            path + ".enforcing_success_rate"),
        percent(od.hasEnforcingLocalOriginSuccessRate(), od.getEnforcingLocalOriginSuccessRate(), 100,
            path + ".enforcing_local_origin_success_rate"),
        percent(od.hasEnforcingFailurePercentage(), od.getEnforcingFailurePercentage(), 0,
            path + ".enforcing_failure_percentage"),
        percent(od.hasEnforcingFailurePercentageLocalOrigin(),
            od.getEnforcingFailurePercentageLocalOrigin(), 0,
            path + ".enforcing_failure_percentage_local_origin"),
        u32(od.hasSuccessRateMinimumHosts(), od.getSuccessRateMinimumHosts(), 5),
        u32(od.hasSuccessRateRequestVolume(), od.getSuccessRateRequestVolume(), 100),
        u32(od.hasSuccessRateStdevFactor(), od.getSuccessRateStdevFactor(), 1900),
        percent(od.hasFailurePercentageThreshold(), od.getFailurePercentageThreshold(), 85,
            path + ".failure_percentage_threshold"),
        u32(od.hasFailurePercentageMinimumHosts(), od.getFailurePercentageMinimumHosts(), 5),
        u32(od.hasFailurePercentageRequestVolume(), od.getFailurePercentageRequestVolume(), 50),
        !od.hasSuccessfulActiveHealthCheckUnejectHost()
            || od.getSuccessfulActiveHealthCheckUnejectHost().getValue());
  }

  private static int u32(boolean has, UInt32Value v, int dflt) {
    if (!has) {
      return dflt;
    }
    long x = Integer.toUnsignedLong(v.getValue());
    return (int) Math.min(Integer.MAX_VALUE, x);
  }

  private static int percent(boolean has, UInt32Value v, int dflt, String path) {
    if (!has) {
      return dflt;
    }
    if (Integer.toUnsignedLong(v.getValue()) > 100) {
      throw new ConfigException(path + ".value", "value must be less than or equal to 100");
    }
    return v.getValue();
  }

  private static long positive(Duration d, String path) {
    if (d.getSeconds() < 0 || (d.getSeconds() == 0 && d.getNanos() <= 0)) {
      throw new ConfigException(path, "value must be greater than 0s");
    }
    return Math.max(1, ms(d));
  }

  private static long ms(Duration d) {
    return d.getSeconds() * 1000 + d.getNanos() / 1_000_000;
  }
}
