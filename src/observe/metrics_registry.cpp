#include "lipsyncd/observe/metrics_registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "lipsyncd/core/error.hpp"

namespace lipsyncd::observe {
namespace {

[[noreturn]] void bad_definition(const std::string& what) {
  throw Error("metric_definition_invalid", what,
              "metric names follow Prometheus rules: [a-zA-Z_:][a-zA-Z0-9_:]*");
}

bool valid_name(std::string_view name, bool allow_colon) {
  if (name.empty()) return false;
  const auto allowed = [allow_colon](char c, bool first) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    return letter || (allow_colon && c == ':') || (!first && c >= '0' && c <= '9');
  };
  if (!allowed(name.front(), true)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return allowed(c, false); });
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

std::string escape_help(std::string_view help) {
  std::string result;
  for (const char c : help) {
    if (c == '\\') {
      result += "\\\\";
    } else if (c == '\n') {
      result += "\\n";
    } else {
      result += c;
    }
  }
  return result;
}

// {a="x",b="y"} with an optional extra label (histograms' "le"); empty when there are none.
std::string label_set(const std::vector<std::string>& names, const LabelValues& values,
                      std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i != 0) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
  return out;
}

void append_sample(std::string& out, std::string_view name, const std::string& labels,
                   double value) {
  out += name;
  out += labels;
  out += ' ';
  out += format_sample_value(value);
  out += '\n';
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string result;
  result.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      result += "\\\\";
    } else if (c == '"') {
      result += "\\\"";
    } else if (c == '\n') {
      result += "\\n";
    } else {
      result += c;
    }
  }
  return result;
}

std::string format_sample_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

void Counter::inc(double amount) {
  if (!(amount >= 0)) {
    throw Error("metric_counter_decrease",
                "a counter cannot go down (amount " + format_sample_value(amount) + ")",
                "use a gauge for values that can decrease");
  }
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), bucket_counts_(upper_bounds_.size() + 1, 0) {
  for (std::size_t i = 0; i < upper_bounds_.size(); ++i) {
    if (!std::isfinite(upper_bounds_[i]) || (i > 0 && upper_bounds_[i] <= upper_bounds_[i - 1])) {
      bad_definition("histogram bucket bounds must be finite and strictly increasing");
    }
  }
}

void Histogram::observe(double value) {
  // Buckets are "less or equal"; the first bound not below value is the bucket.
  // NaN compares false with everything and would land in the first bucket: count it in +Inf.
  const auto bucket = std::isnan(value)
                          ? upper_bounds_.size()
                          : static_cast<std::size_t>(std::lower_bound(upper_bounds_.begin(),
                                                                      upper_bounds_.end(), value) -
                                                     upper_bounds_.begin());
  std::lock_guard lock(mutex_);
  ++bucket_counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  std::lock_guard lock(mutex_);
  std::uint64_t running = 0;
  for (const auto count : bucket_counts_) {
    running += count;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  snapshot.count = count_;
  return snapshot;
}

MetricFamilyBase::MetricFamilyBase(std::string name, std::string help, MetricType type,
                                   std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {
  if (!valid_name(name_, true)) bad_definition("invalid metric name \"" + name_ + "\"");
  for (std::size_t i = 0; i < label_names_.size(); ++i) {
    const auto& label = label_names_[i];
    if (!valid_name(label, false) || label.rfind("__", 0) == 0) {
      bad_definition("invalid label name \"" + label + "\" on " + name_);
    }
    if (type_ == MetricType::histogram && label == "le") {
      bad_definition("histogram " + name_ + " cannot have a label named \"le\"");
    }
    if (std::find(label_names_.begin(), label_names_.begin() + static_cast<long>(i), label) !=
        label_names_.begin() + static_cast<long>(i)) {
      bad_definition("label \"" + label + "\" appears twice on " + name_);
    }
  }
}

void MetricFamilyBase::check_arity(const LabelValues& values) const {
  if (values.size() != label_names_.size()) {
    bad_definition(
        fmt::format("{} takes {} label values, got {}", name_, label_names_.size(), values.size()));
  }
}

void MetricFamilyBase::render(std::string& out) const {
  out += "# HELP " + name_ + ' ' + escape_help(help_) + '\n';
  out += "# TYPE " + name_ + ' ' + std::string(type_name(type_)) + '\n';
  render_samples(out);
}

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), MetricType::counter, std::move(label_names)) {}

void CounterFamily::render_samples(std::string& out) const {
  for (const auto& [labels, counter] : children()) {
    append_sample(out, name_, label_set(label_names_, labels), counter->value());
  }
}

GaugeFamily::GaugeFamily(std::string name, std::string help, std::vector<std::string> label_names)
    : MetricFamily(std::move(name), std::move(help), MetricType::gauge, std::move(label_names)) {}

void GaugeFamily::render_samples(std::string& out) const {
  for (const auto& [labels, gauge] : children()) {
    append_sample(out, name_, label_set(label_names_, labels), gauge->value());
  }
}

HistogramFamily::HistogramFamily(std::string name, std::string help,
                                 std::vector<std::string> label_names,
                                 std::vector<double> upper_bounds)
    : MetricFamily(std::move(name), std::move(help), MetricType::histogram, std::move(label_names)),
      upper_bounds_(std::move(upper_bounds)) {
  Histogram check(upper_bounds_);  // refuses bad bounds now, not at first use
}

std::unique_ptr<Histogram> HistogramFamily::make_child() const {
  return std::make_unique<Histogram>(upper_bounds_);
}

void HistogramFamily::render_samples(std::string& out) const {
  for (const auto& [labels, histogram] : children()) {
    const auto snapshot = histogram->snapshot();
    for (std::size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
      const std::string le =
          i < upper_bounds_.size() ? format_sample_value(upper_bounds_[i]) : "+Inf";
      append_sample(out, name_ + "_bucket", label_set(label_names_, labels, "le", le),
                    static_cast<double>(snapshot.cumulative_counts[i]));
    }
    append_sample(out, name_ + "_sum", label_set(label_names_, labels), snapshot.sum);
    append_sample(out, name_ + "_count", label_set(label_names_, labels),
                  static_cast<double>(snapshot.count));
  }
}

void MetricsRegistry::check_new_name(const std::string& name) const {
  for (const auto& family : families_) {
    if (family->name() == name) bad_definition("metric " + name + " is defined twice");
  }
}

CounterFamily& MetricsRegistry::counter(std::string name, std::string help,
                                        std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  check_new_name(name);
  auto family =
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(label_names));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

GaugeFamily& MetricsRegistry::gauge(std::string name, std::string help,
                                    std::vector<std::string> label_names) {
  std::lock_guard lock(mutex_);
  check_new_name(name);
  auto family =
      std::make_unique<GaugeFamily>(std::move(name), std::move(help), std::move(label_names));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help,
                                            std::vector<std::string> label_names,
                                            std::vector<double> upper_bounds) {
  std::lock_guard lock(mutex_);
  check_new_name(name);
  auto family = std::make_unique<HistogramFamily>(std::move(name), std::move(help),
                                                  std::move(label_names), std::move(upper_bounds));
  auto& result = *family;
  families_.push_back(std::move(family));
  return result;
}

void MetricsRegistry::add_collector(std::function<void()> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::render() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lock(mutex_);
    collectors = collectors_;
  }
  // Outside the lock: a collector sets gauges, and may be slow (a store query).
  for (const auto& collect : collectors) collect();
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace lipsyncd::observe
