#pragma once
// Thread-safe metrics (counters, gauges, histograms with fixed buckets, each family with
// labels) rendered in Prometheus's text exposition format 0.0.4. Metrics are created once and
// live as long as the registry, so a reference to one can be kept and updated lock-free.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lipsyncd::observe {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  // Counters only go up; a negative amount throws lipsyncd::Error.
  void inc(double amount = 1.0);
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  struct Snapshot {
    std::vector<std::uint64_t> cumulative_counts;  // one per upper bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };

  // Upper bounds, strictly increasing and finite; +Inf is implied.
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  Snapshot snapshot() const;
  const std::vector<double>& upper_bounds() const noexcept { return upper_bounds_; }

 private:
  std::vector<double> upper_bounds_;
  mutable std::mutex mutex_;
  std::vector<std::uint64_t> bucket_counts_;  // not cumulative; last one is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

enum class MetricType { counter, gauge, histogram };

// One metric name with a fixed set of label names; with(values) returns the child for one
// combination of label values, created at first use.
class MetricFamilyBase {
 public:
  MetricFamilyBase(std::string name, std::string help, MetricType type,
                   std::vector<std::string> label_names);
  virtual ~MetricFamilyBase() = default;
  MetricFamilyBase(const MetricFamilyBase&) = delete;
  MetricFamilyBase& operator=(const MetricFamilyBase&) = delete;

  const std::string& name() const noexcept { return name_; }
  const std::vector<std::string>& label_names() const noexcept { return label_names_; }
  void render(std::string& out) const;

 protected:
  void check_arity(const LabelValues& values) const;
  virtual void render_samples(std::string& out) const = 0;

  std::string name_;
  std::string help_;
  MetricType type_;
  std::vector<std::string> label_names_;
  mutable std::mutex mutex_;
};

template <class Metric>
class MetricFamily : public MetricFamilyBase {
 public:
  using MetricFamilyBase::MetricFamilyBase;

  Metric& with(const LabelValues& values) {
    check_arity(values);
    std::lock_guard lock(mutex_);
    auto& slot = children_[values];
    if (!slot) slot = make_child();
    return *slot;
  }

  // Drops one child, so its series disappears from /metrics (a budget cap that was removed).
  // Only for children nobody keeps a reference to: look them up with with() each time.
  void remove(const LabelValues& values) {
    check_arity(values);
    std::lock_guard lock(mutex_);
    children_.erase(values);
  }

 protected:
  virtual std::unique_ptr<Metric> make_child() const = 0;
  // Copies of the children under the lock, so rendering never blocks updates for long.
  std::vector<std::pair<LabelValues, const Metric*>> children() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<LabelValues, const Metric*>> result;
    for (const auto& [labels, metric] : children_) result.emplace_back(labels, metric.get());
    return result;
  }

 private:
  std::map<LabelValues, std::unique_ptr<Metric>> children_;
};

class CounterFamily final : public MetricFamily<Counter> {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> label_names);

 private:
  std::unique_ptr<Counter> make_child() const override { return std::make_unique<Counter>(); }
  void render_samples(std::string& out) const override;
};

class GaugeFamily final : public MetricFamily<Gauge> {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names);

 private:
  std::unique_ptr<Gauge> make_child() const override { return std::make_unique<Gauge>(); }
  void render_samples(std::string& out) const override;
};

class HistogramFamily final : public MetricFamily<Histogram> {
 public:
  HistogramFamily(std::string name, std::string help, std::vector<std::string> label_names,
                  std::vector<double> upper_bounds);

 private:
  std::unique_ptr<Histogram> make_child() const override;
  void render_samples(std::string& out) const override;
  std::vector<double> upper_bounds_;
};

class MetricsRegistry {
 public:
  // Names must be valid Prometheus names and unique; label names must be valid and must not
  // be "le" for histograms. Violations throw lipsyncd::Error ("metric_definition_invalid").
  CounterFamily& counter(std::string name, std::string help,
                         std::vector<std::string> label_names = {});
  GaugeFamily& gauge(std::string name, std::string help, std::vector<std::string> label_names = {});
  HistogramFamily& histogram(std::string name, std::string help,
                             std::vector<std::string> label_names,
                             std::vector<double> upper_bounds);

  // Called at the start of every render(): a gauge whose value is a fact someone else keeps
  // (the job store's counts, the oldest job's age) is computed at scrape time by its owner
  // rather than copied into the registry as a side effect of something else.
  void add_collector(std::function<void()> collect);

  // The text exposition format, families in the order they were added.
  std::string render() const;

 private:
  void check_new_name(const std::string& name) const;
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<MetricFamilyBase>> families_;
  std::vector<std::function<void()>> collectors_;
};

// Prometheus text-format spellings, exposed for tests and other exporters.
std::string escape_label_value(std::string_view value);
std::string format_sample_value(double value);

}  // namespace lipsyncd::observe
