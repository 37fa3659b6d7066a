#include "lipsyncd/media/long_form_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "lipsyncd/core/endpoint_catalog.hpp"

namespace lipsyncd::media {
namespace {

// Outputs this much longer than max_segment_s still make one segment: durations measured
// from packets differ from the configured length by rounding alone.
constexpr double kSegmentSlackS = 1e-3;
// No segment shorter than this: fal refuses almost empty inputs and a stitch seam per second
// helps nobody.
constexpr double kMinSegmentS = 1.0;

std::string fixed(double value, int decimals) {
  char text[48];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

double snap_to_frame(double t, double frame_s) {
  return frame_s > 0 ? std::round(t / frame_s) * frame_s : t;
}

// Where cut k may go: every segment, this one and those still to come, within max_s.
struct Window {
  double lo = 0;
  double hi = 0;
};

Window window_for(int k, int count, double previous_cut, double total, double max_s) {
  const double remaining_after = static_cast<double>(count - k) * max_s;
  const double hi = std::min(previous_cut + max_s, total - kMinSegmentS);
  const double lo = std::max(previous_cut + kMinSegmentS, total - remaining_after);
  return {std::min(lo, hi), hi};  // only a max_segment_s near kMinSegmentS could cross them
}

struct Cut {
  double time_s = 0;
  CutKind kind = CutKind::pause;
  std::string reason;
};

// The keyframe inside [lo, hi] nearest `target`, if any.
std::optional<double> keyframe_near(const std::vector<double>& keyframes, double lo, double hi,
                                    double target) {
  std::optional<double> best;
  const auto first = std::lower_bound(keyframes.begin(), keyframes.end(), lo);
  for (auto it = first; it != keyframes.end() && *it <= hi; ++it) {
    if (!best || std::fabs(*it - target) < std::fabs(*best - target)) best = *it;
  }
  return best;
}

// A frame boundary inside [lo, hi] nearest t (t itself when no boundary lies inside).
double frame_inside(double t, double lo, double hi, double frame_s) {
  double snapped = snap_to_frame(t, frame_s);
  if (snapped < lo) snapped += frame_s;
  if (snapped > hi) snapped -= frame_s;
  return snapped >= lo && snapped <= hi ? snapped : t;
}

std::optional<Cut> cut_in_pause(const LongFormInputs& in, Window window, double ideal) {
  const Pause* best = nullptr;
  double best_distance = 0;
  Window best_usable;
  for (const Pause& pause : in.pauses) {
    const Window usable{std::max(pause.start_s, window.lo), std::min(pause.end_s, window.hi)};
    if (usable.hi < usable.lo) continue;
    const double distance = ideal < usable.lo   ? usable.lo - ideal
                            : ideal > usable.hi ? ideal - usable.hi
                                                : 0.0;
    const bool nearer = best == nullptr || distance < best_distance ||
                        (distance == best_distance && pause.duration_s() > best->duration_s());
    if (nearer) {
      best = &pause;
      best_distance = distance;
      best_usable = usable;
    }
  }
  if (best == nullptr) return std::nullopt;
  const double middle = (best_usable.lo + best_usable.hi) / 2;
  const std::string what =
      "pause of " + fixed(best->duration_s(), 2) + " s at " + clock_text(best->start_s);
  if (const auto keyframe = keyframe_near(in.keyframes, best_usable.lo, best_usable.hi, middle)) {
    return Cut{*keyframe, CutKind::keyframe_in_pause, what + ", on a keyframe"};
  }
  return Cut{frame_inside(middle, best_usable.lo, best_usable.hi, in.frame_s), CutKind::pause,
             what + ", its middle" + (in.keyframes.empty() ? "" : " (no keyframe in it)")};
}

// Best effort: the quietest envelope window in reach (the one nearest the aim among equals).
Cut cut_at_quietest(const LongFormInputs& in, const AudioEnvelope& envelope, Window window,
                    double ideal) {
  double best_time = ideal;
  double best_level = std::numeric_limits<double>::infinity();
  const double w = envelope.window_s;
  const auto first = static_cast<size_t>(std::max(0.0, std::floor(window.lo / w)));
  for (size_t i = first; i < envelope.rms_dbfs.size(); ++i) {
    const double middle = (static_cast<double>(i) + 0.5) * w;
    if (middle > window.hi) break;
    if (middle < window.lo) continue;
    const double level = envelope.rms_dbfs[i];
    if (level < best_level ||
        (level == best_level && std::fabs(middle - ideal) < std::fabs(best_time - ideal))) {
      best_level = level;
      best_time = middle;
    }
  }
  std::string level_text =
      std::isfinite(best_level) ? fixed(best_level, 1) + " dBFS" : std::string("digital silence");
  if (best_level == std::numeric_limits<double>::infinity()) level_text = "no audio measured";
  return Cut{frame_inside(best_time, window.lo, window.hi, in.frame_s), CutKind::no_pause,
             "no pause of " + fixed(in.min_pause_s, 2) + " s or more between " +
                 clock_text(window.lo) + " and " + clock_text(window.hi) + " (around " +
                 clock_text(ideal) + "): quietest point, " + level_text};
}

bool on_keyframe(const std::vector<double>& keyframes, double t, double frame_s) {
  const auto it = std::lower_bound(keyframes.begin(), keyframes.end(), t - frame_s / 2);
  return it != keyframes.end() && *it <= t + frame_s / 2;
}

PlannedSegment make_segment(const LongFormInputs& in, int index, double start, const Cut& end,
                            bool last) {
  PlannedSegment segment;
  segment.index = index;
  segment.span = {start, end.time_s - start};
  segment.end_cut = end.kind;
  segment.cut_reason = end.reason;
  segment.starts_on_keyframe = on_keyframe(in.keyframes, start, in.frame_s);
  segment.ends_on_keyframe = last || on_keyframe(in.keyframes, end.time_s, in.frame_s);
  segment.estimated_usd = estimate_usd(segment.span.duration_s, in.usd_per_minute);
  return segment;
}

void add_notes(LongFormPlan& plan, const LongFormInputs& in) {
  const auto count = plan.segments.size();
  plan.notes.push_back(std::to_string(count) + " segment" + (count == 1 ? "" : "s") +
                       " of at most " + fixed(in.max_segment_s, 0) +
                       " s ([longform] max_segment_s; one request takes at most " +
                       fixed(in.request_limit_s, 0) + " s of video)");
  for (const auto& segment : plan.segments) {
    if (segment.end_cut == CutKind::no_pause) {
      plan.notes.push_back("segment " + std::to_string(segment.index) + " ends at " +
                           clock_text(segment.span.end_s()) +
                           " without a pause (best effort): a word may be cut there");
    }
  }
  if (in.keyframes.empty() && count > 1) {
    plan.notes.push_back(
        "the video is re-encoded before it is cut, so every segment is cut precisely with a "
        "re-encode");
  }
}

}  // namespace

std::string_view to_string(CutKind kind) noexcept {
  switch (kind) {
    case CutKind::keyframe_in_pause:
      return "keyframe_in_pause";
    case CutKind::pause:
      return "pause";
    case CutKind::no_pause:
      return "no_pause";
  }
  return "pause";
}

LongFormPlan plan_long_form(const LongFormInputs& in, const AudioEnvelope& envelope) {
  LongFormPlan plan;
  plan.request_limit_s = in.request_limit_s;
  plan.max_segment_s = in.max_segment_s;
  const double total = in.output_s;
  const int count = std::max(
      1, static_cast<int>(std::ceil((total - kSegmentSlackS) / std::max(in.max_segment_s, 1.0))));
  double start = 0;
  for (int k = 1; k < count; ++k) {
    const double ideal = static_cast<double>(k) * total / count;
    const Window window = window_for(k, count, start, total, in.max_segment_s);
    const std::optional<Cut> paused = cut_in_pause(in, window, ideal);
    const Cut cut = paused ? *paused : cut_at_quietest(in, envelope, window, ideal);
    plan.segments.push_back(make_segment(in, k, start, cut, false));
    start = cut.time_s;
  }
  plan.segments.push_back(
      make_segment(in, count, start, Cut{total, CutKind::pause, "end of the output"}, true));
  for (const auto& segment : plan.segments) plan.total_estimated_usd += segment.estimated_usd;
  add_notes(plan, in);
  return plan;
}

TimeSpan source_span_of(SyncMode mode, double video_s, TimeSpan output_span) {
  const double d = output_span.duration_s;
  const double s = output_span.start_s;
  if (video_s <= 0) return {0, 0};
  if (mode == SyncMode::loop) {
    if (d >= video_s) return {0, video_s};
    const double a = std::fmod(s, video_s);
    if (a + d <= video_s) return {a, d};
    const double tail = video_s - a;  // [a, video_s) then [0, d - tail)
    return tail >= d - tail ? TimeSpan{a, tail} : TimeSpan{0, d - tail};
  }
  if (mode == SyncMode::bounce) {
    const double period = 2 * video_s;
    if (d >= period) return {0, video_s};
    const double p0 = std::fmod(s, period);
    const double p1 = p0 + d;
    const auto position = [&](double p) {
      const double q = std::fmod(p, period);
      return q <= video_s ? q : period - q;
    };
    double lo = std::min(position(p0), position(p1));
    double hi = std::max(position(p0), position(p1));
    if ((p0 < video_s && p1 > video_s) || (p0 < 3 * video_s && p1 > 3 * video_s)) hi = video_s;
    if (p0 < period && p1 > period) lo = 0;
    return {lo, hi - lo};
  }
  // cut_off, silence, remap: the same times; past the end the last frame is held.
  const double end = std::min(output_span.end_s(), video_s);
  const double start = std::min(s, video_s);
  const double last_second = std::min(1.0, video_s);
  if (end - start < last_second) return {video_s - last_second, last_second};
  return {start, end - start};
}

std::string clock_text(double seconds) {
  const double rounded = std::round(std::max(0.0, seconds) * 10) / 10;
  const auto whole = static_cast<long>(std::floor(rounded));
  const int tenths = static_cast<int>(std::lround((rounded - static_cast<double>(whole)) * 10));
  char text[48];
  if (whole >= 3600) {
    std::snprintf(text, sizeof text, "%ld:%02ld:%02ld.%d", whole / 3600, whole / 60 % 60,
                  whole % 60, tenths);
  } else {
    std::snprintf(text, sizeof text, "%ld:%02ld.%d", whole / 60, whole % 60, tenths);
  }
  return text;
}

}  // namespace lipsyncd::media
