// Joining the segment outputs of a long-form job: their video by stream copy (or one re-encode
// when they differ), the original audio track encoded once to AAC, then the checks.

#include "lipsyncd/media/stitch.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "h264_encoder.hpp"
#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/media/media_info.hpp"
#include "output_file.hpp"
#include "stitch_audio.hpp"
#include "stitch_check.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

constexpr const char* kSegmentHint =
    "download the segment again (retry the job) or report the job if fal's output is damaged";

std::string segment_name(std::size_t k, const std::filesystem::path& file) {
  return "segment " + std::to_string(k + 1) + " (" + file.filename().string() + ")";
}

std::string rational_text(AVRational value) {
  return std::to_string(value.num) + "/" + std::to_string(value.den);
}

// Each segment probed (which reads every packet and catches a truncated download) and held to
// its planned duration.
std::vector<MediaInfo> probe_segments(const StitchRequest& request) {
  std::vector<MediaInfo> infos;
  for (std::size_t k = 0; k < request.segments.size(); ++k) {
    const std::string name = segment_name(k, request.segments[k]);
    MediaInfo info;
    try {
      info = probe(request.segments[k]);
    } catch (const Error& error) {
      stitch_check_failed(name + " cannot be used: " + error.what(), kSegmentHint);
    }
    if (!info.video) stitch_check_failed(name + " has no video stream.", kSegmentHint);
    const double frame_s = 1.0 / (info.video->fps > 0 ? info.video->fps : 30);
    const double lasts = video_seconds(info);
    if (std::fabs(lasts - request.planned_durations_s[k]) > frame_s + 1e-4) {
      stitch_check_failed(name + " lasts " + seconds_text(lasts) + ", planned " +
                              seconds_text(request.planned_durations_s[k]) +
                              " (more than one frame, " + seconds_text(frame_s) + ", apart).",
                          kSegmentHint);
    }
    infos.push_back(std::move(info));
  }
  return infos;
}

// What stops `other` from being appended to `first` by stream copy; empty when nothing does.
std::string difference(const AVStream* first, const AVStream* other) {
  const AVCodecParameters* a = first->codecpar;
  const AVCodecParameters* b = other->codecpar;
  if (a->codec_id != b->codec_id) {
    return std::string("codec ") + avcodec_get_name(b->codec_id) + " instead of " +
           avcodec_get_name(a->codec_id);
  }
  if (a->width != b->width || a->height != b->height) {
    return std::to_string(b->width) + "x" + std::to_string(b->height) + " instead of " +
           std::to_string(a->width) + "x" + std::to_string(a->height);
  }
  if (a->format != b->format) {
    const char* name_a = av_get_pix_fmt_name(static_cast<AVPixelFormat>(a->format));
    const char* name_b = av_get_pix_fmt_name(static_cast<AVPixelFormat>(b->format));
    return std::string("pixel format ") + (name_b ? name_b : "?") + " instead of " +
           (name_a ? name_a : "?");
  }
  if (a->profile != b->profile) {
    return "profile " + std::to_string(b->profile) + " instead of " + std::to_string(a->profile);
  }
  if (av_cmp_q(first->time_base, other->time_base) != 0) {
    return "time base " + rational_text(other->time_base) + " instead of " +
           rational_text(first->time_base);
  }
  if (av_cmp_q(first->avg_frame_rate, other->avg_frame_rate) != 0) {
    return "frame rate " + rational_text(other->avg_frame_rate) + " instead of " +
           rational_text(first->avg_frame_rate);
  }
  if (a->video_delay != b->video_delay) {
    return "B-frame delay " + std::to_string(b->video_delay) + " instead of " +
           std::to_string(a->video_delay);
  }
  if (a->extradata_size != b->extradata_size ||
      (a->extradata_size > 0 &&
       std::memcmp(a->extradata, b->extradata, static_cast<size_t>(a->extradata_size)) != 0)) {
    return "other codec parameter sets (extradata)";
  }
  return {};
}

// A segment opened for its video packets.
struct SegmentInput {
  libav::InputFormat format;
  AVStream* video = nullptr;
};

SegmentInput open_segment(const std::filesystem::path& file, std::size_t k) {
  SegmentInput segment;
  try {
    segment.format = open_input(file);
  } catch (const Error& error) {
    stitch_check_failed(segment_name(k, file) + " cannot be read: " + error.what(), kSegmentHint);
  }
  const int index = shown_video_stream(segment.format.get());
  if (index < 0) stitch_check_failed(segment_name(k, file) + " has no video stream.");
  segment.video = segment.format->streams[index];
  return segment;
}

class Stitcher {
 public:
  Stitcher(const StitchRequest& request, std::vector<MediaInfo> infos,
           const std::filesystem::path& destination, const MediaConfig& config)
      : request_(request), infos_(std::move(infos)), destination_(destination), config_(config) {}

  // Returns where each segment's first frame is (frame indexes, presentation order).
  std::vector<long> copy(double length_s) {
    OutputFile output(destination_, "mp4");
    const SegmentInput first = open_segment(request_.segments[0], 0);
    AVStream* video = output.add_stream();
    libav::check(avcodec_parameters_copy(video->codecpar, first.video->codecpar), "disk_error",
                 "cannot prepare", destination_);
    video->codecpar->codec_tag = 0;
    video->time_base = first.video->time_base;
    video->avg_frame_rate = first.video->avg_frame_rate;
    const std::unique_ptr<AudioTrack> audio = audio_track(request_.audio, output, length_s);
    output.write_header(true);

    std::vector<long> first_frames;
    long frames = 0;
    int64_t offset = 0;  // where the next segment starts, in the output's time base
    int64_t last_dts = std::numeric_limits<int64_t>::min();
    libav::Packet packet = libav::make_packet();
    for (std::size_t k = 0; k < request_.segments.size(); ++k) {
      first_frames.push_back(frames);
      const SegmentInput segment = open_segment(request_.segments[k], k);
      const AVRational in_tb = segment.video->time_base;
      const int64_t start = segment.video->start_time == AV_NOPTS_VALUE
                                ? 0
                                : av_rescale_q(segment.video->start_time, in_tb, video->time_base);
      const int64_t frame_duration =
          av_rescale_q(1, av_inv_q(segment.video->avg_frame_rate), video->time_base);
      int64_t end = offset;
      while (true) {
        const int read = av_read_frame(segment.format.get(), packet.get());
        if (read == AVERROR_EOF) break;
        if (read < 0) {
          stitch_check_failed(segment_name(k, request_.segments[k]) +
                                  " cannot be read to its end: " + libav::error_text(read) + ".",
                              kSegmentHint);
        }
        if (packet->stream_index != segment.video->index) {
          av_packet_unref(packet.get());
          continue;
        }
        av_packet_rescale_ts(packet.get(), in_tb, video->time_base);
        if (packet->duration <= 0) packet->duration = frame_duration;
        if (packet->pts != AV_NOPTS_VALUE) packet->pts += offset - start;
        if (packet->dts != AV_NOPTS_VALUE) packet->dts += offset - start;
        if (packet->dts != AV_NOPTS_VALUE && packet->dts <= last_dts) {
          stitch_check_failed(segment_name(k, request_.segments[k]) +
                                  " cannot follow the segment before it by stream copy: its "
                                  "decoding times overlap that segment's end.",
                              kSegmentHint);
        }
        last_dts = packet->dts != AV_NOPTS_VALUE ? packet->dts : last_dts;
        if (packet->pts != AV_NOPTS_VALUE) end = std::max(end, packet->pts + packet->duration);
        audio->write_until(static_cast<double>(packet->dts) * av_q2d(video->time_base));
        packet->stream_index = video->index;
        packet->pos = -1;
        output.write(packet.get());
        ++frames;
      }
      offset = end;
    }
    audio->finish();
    output.finish();
    return first_frames;
  }

  // Decodes every segment and encodes them as one stream at the first segment's picture size
  // and frame rate; each segment starts where the one before it ends.
  std::vector<long> reencode(double length_s) {
    const SegmentInput first = open_segment(request_.segments[0], 0);
    const int width = std::max(2, first.video->codecpar->width / 2 * 2);
    const int height = std::max(2, first.video->codecpar->height / 2 * 2);
    AVRational rate = first.video->avg_frame_rate;
    if (rate.num <= 0 || rate.den <= 0) rate = {30, 1};
    const AVRational tb = av_inv_q(rate);
    OutputFile output(destination_, "mp4");
    H264Encoder encoder(output, H264Settings{width, height, rate, tb}, config_,
                        request_.segments[0]);
    const std::unique_ptr<AudioTrack> audio = audio_track(request_.audio, output, length_s);
    encoder.set_sink([&](AVPacket* packet) {
      audio->write_until(static_cast<double>(packet->dts) * av_q2d(encoder.stream()->time_base));
      output.write(packet);
    });
    output.write_header(true);
    PictureConverter converter(width, height);

    std::vector<long> first_frames;
    double offset_s = 0;
    int64_t last_pts = std::numeric_limits<int64_t>::min();
    for (std::size_t k = 0; k < request_.segments.size(); ++k) {
      first_frames.push_back(encoder.frames());
      StreamDecoder decoder(request_.segments[k], AVMEDIA_TYPE_VIDEO, 0);
      while (AVFrame* frame = decoder.next_frame()) {
        const int64_t pts = std::llround((offset_s + decoder.frame_seconds(frame)) / av_q2d(tb));
        if (pts <= last_pts) continue;  // a faster segment's frames share an output slot
        last_pts = pts;
        AVFrame* picture = converter.convert(frame, request_.segments[k]);
        picture->pts = pts;
        encoder.encode(picture);
      }
      offset_s += video_seconds(infos_[k]);
    }
    encoder.flush();
    audio->finish();
    output.finish();
    return first_frames;
  }

 private:
  const StitchRequest& request_;
  std::vector<MediaInfo> infos_;
  std::filesystem::path destination_;
  const MediaConfig& config_;
};

// Why the segments cannot be joined by stream copy; empty when they can.
std::string reencode_reason(const StitchRequest& request) {
  const SegmentInput first = open_segment(request.segments[0], 0);
  for (std::size_t k = 1; k < request.segments.size(); ++k) {
    const SegmentInput other = open_segment(request.segments[k], k);
    const std::string why = difference(first.video, other.video);
    if (!why.empty()) return segment_name(k, request.segments[k]) + ": " + why + " of segment 1";
  }
  return {};
}

}  // namespace

StitchResult stitch_segments(const StitchRequest& request, const std::filesystem::path& destination,
                             const MediaConfig& config) {
  libav::initialize();
  if (request.segments.empty() || request.segments.size() != request.planned_durations_s.size()) {
    throw std::invalid_argument(
        "stitch_segments: " + std::to_string(request.segments.size()) + " segments but " +
        std::to_string(request.planned_durations_s.size()) + " planned durations");
  }
  StitchedLayout layout;
  layout.planned_durations_s = request.planned_durations_s;
  layout.expected_duration_s = request.expected_duration_s;
  if (layout.expected_duration_s <= 0) {
    for (const double planned : request.planned_durations_s) layout.expected_duration_s += planned;
  }
  const auto started = std::chrono::steady_clock::now();
  std::vector<MediaInfo> infos = probe_segments(request);
  const std::string why = reencode_reason(request);
  Stitcher stitcher(request, std::move(infos), destination, config);
  layout.first_frames = why.empty() ? stitcher.copy(layout.expected_duration_s)
                                    : stitcher.reencode(layout.expected_duration_s);
  const auto written = std::chrono::steady_clock::now();
  StitchResult result;
  try {
    result = check_stitched(destination, layout);
  } catch (const Error&) {
    // A file that failed its checks must not look like a result to anyone.
    std::error_code ignored;
    std::filesystem::remove(destination, ignored);
    throw;
  }
  result.write_seconds = std::chrono::duration<double>(written - started).count();
  result.check_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - written).count();
  result.reencoded = !why.empty();
  result.reencode_reason = why;
  return result;
}

}  // namespace lipsyncd::media
