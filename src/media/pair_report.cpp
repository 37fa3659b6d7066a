#include "lipsyncd/media/pair_report.hpp"

#include <boost/json.hpp>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "lipsyncd/core/json_text.hpp"
#include "lipsyncd/core/number_format.hpp"

namespace lipsyncd::media {
namespace {

namespace json = boost::json;

// JSON has no infinity (digital silence is -inf dBFS): such values become null.
json::value number(double value) {
  return json_decimal(value, kSecondsDecimals);
}

json::object input_json(const MediaInfo& info, bool needs_transcode) {
  json::object object;
  object["file"] = info.file.string();
  object["bytes"] = info.bytes;
  object["container"] = info.container;
  object["duration_s"] = number(info.duration_s);
  object["video_codec"] = info.video ? json::value(info.video->codec) : nullptr;
  object["audio_codec"] = info.audio ? json::value(info.audio->codec) : nullptr;
  object["video_duration_s"] = info.video ? number(info.video->duration_s) : nullptr;
  object["audio_duration_s"] = info.audio ? number(info.audio->duration_s) : nullptr;
  if (info.video) {
    object["video_stream"] = info.video->stream_index;
    object["other_video_streams"] = info.video->other_video_streams;
    object["width"] = info.video->display_width();
    object["height"] = info.video->display_height();
    object["fps"] = number(info.video->fps);
    object["variable_frame_rate"] = info.video->variable_frame_rate;
    object["rotation"] = info.video->rotation;
    object["pixel_format"] = info.video->pixel_format;
  }
  if (info.audio) {
    object["sample_rate"] = info.audio->sample_rate;
    object["channels"] = info.audio->channels;
  }
  if (info.loudness) {
    object["peak_dbfs"] = number(info.loudness->peak_dbfs);
    object["rms_dbfs"] = number(info.loudness->rms_dbfs);
  }
  object["needs_transcode"] = needs_transcode;
  return object;
}

json::object face_json(const FaceReport& face) {
  json::object object;
  object["samples"] = face.samples;
  object["samples_skipped"] = face.samples_skipped;
  object["visible_ratio"] = number(face.visible_ratio);
  object["median_face_height_ratio"] = number(face.median_face_height_ratio);
  object["max_faces"] = face.max_faces;
  object["max_detections"] = face.max_detections;
  json::array per_sample;
  for (int faces : face.faces_per_sample) per_sample.push_back(faces);
  object["faces_per_sample"] = std::move(per_sample);
  object["samples_with_several_faces"] = face.samples_with_several_faces;
  object["detector"] = face.detector;
  return object;
}

json::object span_json(const TimeSpan& span) {
  return {{"start_s", number(span.start_s)}, {"duration_s", number(span.duration_s)}};
}

json::object segment_json(const PlannedSegment& segment) {
  json::object object;
  object["index"] = segment.index;
  object["start_s"] = number(segment.span.start_s);
  object["end_s"] = number(segment.span.end_s());
  object["duration_s"] = number(segment.span.duration_s);
  object["end_cut"] = to_string(segment.end_cut);
  object["cut_reason"] = segment.cut_reason;
  object["starts_on_keyframe"] = segment.starts_on_keyframe;
  object["ends_on_keyframe"] = segment.ends_on_keyframe;
  object["estimated_cost_usd"] = json_decimal(segment.estimated_usd, kUsdDecimals);
  object["face"] = segment.face ? json::value(face_json(*segment.face)) : json::value(nullptr);
  object["face_reason_code"] = segment.face && !segment.face->reason_code.empty()
                                   ? json::value(segment.face->reason_code)
                                   : json::value(nullptr);
  return object;
}

json::value long_form_json(const std::optional<LongFormPlan>& plan) {
  if (!plan) return nullptr;
  json::object object;
  object["request_limit_s"] = number(plan->request_limit_s);
  object["max_segment_s"] = number(plan->max_segment_s);
  object["total_estimated_cost_usd"] = json_decimal(plan->total_estimated_usd, kUsdDecimals);
  json::array segments;
  for (const auto& segment : plan->segments) segments.push_back(segment_json(segment));
  object["segments"] = std::move(segments);
  json::array notes;
  for (const auto& note : plan->notes) notes.push_back(json::value(note));
  object["notes"] = std::move(notes);
  return object;
}

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string describe_input(const MediaInfo& info, bool needs_transcode) {
  std::ostringstream out;
  out << info.file.filename().string() << " (" << container_display_name(info.container) << ", "
      << fixed(info.duration_s, 3) + " s";
  if (info.video) {
    out << ", " << info.video->codec << " " << info.video->display_width() << "x"
        << info.video->display_height() << " " + fixed(info.video->fps, 2) + " fps";
    if (info.video->variable_frame_rate) out << " variable";
    if (info.video->rotation != 0) out << ", rotated " << info.video->rotation << " deg";
    if (info.video->other_video_streams > 0) {
      out << ", video stream #" << info.video->stream_index << " (the one players show; "
          << info.video->other_video_streams << " other video stream"
          << (info.video->other_video_streams > 1 ? "s" : "") << " ignored)";
    }
  }
  if (info.audio) {
    out << ", " << info.audio->codec << " " << info.audio->sample_rate << " Hz "
        << info.audio->channels << " ch";
  }
  if (info.loudness) out << ", peak " + fixed(info.loudness->peak_dbfs, 1) + " dBFS";
  out << ") -> " << (needs_transcode ? "transcode" : "no re-encode");
  return out.str();
}

// One line a segment: its range, length, estimate, face and why it ends where it does.
void describe_long_form(std::ostream& out, const LongFormPlan& plan) {
  out << "segments: " << plan.segments.size() << ", estimated total "
      << usd_text(plan.total_estimated_usd) << "\n";
  for (const auto& segment : plan.segments) {
    out << "  " << segment.index << ". " << clock_text(segment.span.start_s) << "\u2013"
        << clock_text(segment.span.end_s()) << "  " << fixed(segment.span.duration_s, 2) << " s  "
        << usd_text(segment.estimated_usd);
    if (segment.face) {
      out << "  face " << fixed(segment.face->visible_ratio * 100, 0) << "%";
    }
    out << (segment.starts_on_keyframe && segment.ends_on_keyframe ? "  copy" : "  re-encode")
        << "\n     ends: " << segment.cut_reason << "\n";
  }
  for (const auto& note : plan.notes) out << "  note: " << note << "\n";
}

}  // namespace

std::string_view to_string(Verdict verdict) noexcept {
  switch (verdict) {
    case Verdict::accept:
      return "accept";
    case Verdict::accept_with_warning:
      return "accept_with_warning";
    case Verdict::reject:
      return "reject";
  }
  return "reject";
}

std::string to_json(const PairReport& report) {
  json::object object;
  object["verdict"] = to_string(report.verdict);
  object["reason_code"] =
      report.reason_code.empty() ? json::value(nullptr) : json::value(report.reason_code);
  object["message"] = report.message;
  object["hint"] = report.hint;
  object["video"] = report.video
                        ? json::value(input_json(*report.video, report.video_needs_transcode))
                        : json::value(nullptr);
  object["audio"] = report.audio
                        ? json::value(input_json(*report.audio, report.audio_needs_transcode))
                        : json::value(nullptr);
  object["face"] = report.face ? json::value(face_json(*report.face)) : json::value(nullptr);
  if (report.plan) {
    object["sync_mode"] = to_string(report.plan->mode);
    object["sync_mode_reason"] = report.plan->reason;
    object["output_duration_s"] = number(report.plan->output_duration_s);
    object["estimated_cost_usd"] = json_decimal(report.plan->estimated_cost_usd, kUsdDecimals);
    object["video_span"] = span_json(report.plan->video_span);
    object["audio_span"] = span_json(report.plan->audio_span);
  } else {
    for (const char* key : {"sync_mode", "sync_mode_reason", "output_duration_s",
                            "estimated_cost_usd", "video_span", "audio_span"}) {
      object[key] = nullptr;
    }
  }
  object["long_form"] = long_form_json(report.long_form);
  return json_text(object);
}

std::string to_text(const PairReport& report) {
  std::ostringstream out;
  if (report.video)
    out << "video:    " << describe_input(*report.video, report.video_needs_transcode) << "\n";
  if (report.audio)
    out << "audio:    " << describe_input(*report.audio, report.audio_needs_transcode) << "\n";
  if (report.face) {
    out << "face:     "
        << "visible in " + fixed(report.face->visible_ratio * 100, 0) + "%"
        << " of " << report.face->samples << " samples, "
        << "median height " + fixed(report.face->median_face_height_ratio * 100, 0) +
               "% of the frame"
        << ", at most " << report.face->max_faces << " at once\n";
  }
  if (report.plan) {
    out << "sync:     " << to_string(report.plan->mode) << " (" << report.plan->reason << ")\n"
        << "output:   " << fixed(report.plan->output_duration_s, 3) + " s"
        << ", estimated cost " + usd_text(report.plan->estimated_cost_usd) << "\n";
  }
  if (report.long_form) describe_long_form(out, *report.long_form);
  out << "verdict:  " << to_string(report.verdict);
  if (!report.reason_code.empty()) out << " [" << report.reason_code << "]";
  out << "\n          " << report.message << "\n";
  if (!report.hint.empty()) out << "hint:     " << report.hint << "\n";
  return out.str();
}

}  // namespace lipsyncd::media
