// The stitched file is read back before delivery: what a viewer would get, not what we meant to
// write.

#include "stitch_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

constexpr const char* kRetryHint =
    "the segments' outputs are kept; retry the job to stitch again, or report it if it repeats";
constexpr int kSmallPicturePixels = 640 * 480;
// Timestamps are rounded to their time base; this much slack keeps "one frame" exact.
constexpr double kSlack_s = 1e-4;

std::string name_of(const std::filesystem::path& file) {
  return file.filename().string();
}

// Every video packet through the decoder; the presentation times of the frames that begin a
// segment; the extent of each stream.
class StitchedReader {
 public:
  StitchedReader(const std::filesystem::path& file, const std::vector<long>& first_frames)
      : file_(file), input_(open_stitched(file)) {
    video_index_ = shown_video_stream(input_.get());
    if (video_index_ < 0) stitch_check_failed(name_of(file) + " has no video stream.", kRetryHint);
    audio_index_ = av_find_best_stream(input_.get(), AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
    if (audio_index_ < 0) stitch_check_failed(name_of(file) + " has no audio stream.", kRetryHint);
    for (const long frame : first_frames) seam_pts_[frame] = AV_NOPTS_VALUE;
    open_decoder();
  }

  void read_all() {
    libav::Packet packet = libav::make_packet();
    while (true) {
      const int read = av_read_frame(input_.get(), packet.get());
      if (read == AVERROR_EOF) break;
      if (read < 0) {
        stitch_check_failed(name_of(file_) + " cannot be read to its end (after " +
                                seconds_text(seconds(video_end_, video())) +
                                "): " + libav::error_text(read) + ".",
                            kRetryHint);
      }
      if (packet->stream_index == video_index_) {
        on_video_packet(packet.get());
      } else if (packet->stream_index == audio_index_) {
        on_audio_packet(packet.get());
      }
      av_packet_unref(packet.get());
    }
    decode(nullptr);
    if (frames_ != packets_) {
      stitch_check_failed(name_of(file_) + ": only " + std::to_string(frames_) + " of its " +
                              std::to_string(packets_) + " video packets decode to pictures.",
                          kRetryHint);
    }
  }

  const AVStream* video() const { return input_->streams[video_index_]; }
  const AVStream* audio() const { return input_->streams[audio_index_]; }
  double video_start_s() const { return seconds(video_start_, video()); }
  double video_duration_s() const {
    return static_cast<double>(video_end_ - video_start_) * av_q2d(video()->time_base);
  }
  double audio_start_s() const { return seconds(audio_start(), audio()); }
  double audio_duration_s() const {
    return static_cast<double>(audio_end_ - audio_start()) * av_q2d(audio()->time_base);
  }
  double frame_s() const {
    const AVRational rate = video()->avg_frame_rate;
    return rate.num > 0 && rate.den > 0 ? av_q2d(av_inv_q(rate)) : 1.0 / 30;
  }
  // Presentation time of frame `index`, or NaN when it was never decoded.
  double frame_time_s(long index) const {
    const auto found = seam_pts_.find(index);
    if (found == seam_pts_.end() || found->second == AV_NOPTS_VALUE) {
      return std::numeric_limits<double>::quiet_NaN();
    }
    return seconds(found->second, video());
  }

 private:
  static libav::InputFormat open_stitched(const std::filesystem::path& file) {
    try {
      return open_input(file);
    } catch (const Error& error) {
      stitch_check_failed(
          "the stitched file " + name_of(file) + " cannot be read back: " + error.what(),
          kRetryHint);
    }
  }

  static double seconds(int64_t ts, const AVStream* stream) {
    return static_cast<double>(ts) * av_q2d(stream->time_base);
  }

  // The audio's first presented sample: the container's start time, which accounts for the
  // encoder's priming samples that the first packets carry.
  int64_t audio_start() const {
    return audio()->start_time != AV_NOPTS_VALUE ? audio()->start_time : audio_first_;
  }

  void open_decoder() {
    const AVCodec* codec = avcodec_find_decoder(video()->codecpar->codec_id);
    if (codec == nullptr) stitch_check_failed(name_of(file_) + ": no decoder for its video.");
    decoder_.reset(avcodec_alloc_context3(codec));
    if (!decoder_) throw std::bad_alloc();
    libav::check(avcodec_parameters_to_context(decoder_.get(), video()->codecpar),
                 "stitch_check_failed", "cannot decode", file_);
    // Frame threads pay off for big pictures only: on small ones (a 320x320 ultrafast hour)
    // libavcodec's automatic 3 threads took twice the CPU of one and were slower on 2 cores.
    const AVCodecParameters* params = video()->codecpar;
    decoder_->thread_count = params->width * params->height <= kSmallPicturePixels ? 1 : 0;
    decoder_->pkt_timebase = video()->time_base;
    libav::check(avcodec_open2(decoder_.get(), codec, nullptr), "stitch_check_failed",
                 "cannot decode", file_);
  }

  void on_video_packet(AVPacket* packet) {
    ++packets_;
    if (packet->pts != AV_NOPTS_VALUE) {
      video_start_ = std::min(video_start_, packet->pts);
      video_end_ = std::max(video_end_, packet->pts + packet->duration);
    }
    decode(packet);
  }

  void on_audio_packet(const AVPacket* packet) {
    if (packet->pts == AV_NOPTS_VALUE) return;
    audio_first_ = std::min(audio_first_, packet->pts);
    audio_end_ = std::max(audio_end_, packet->pts + packet->duration);
  }

  void decode(const AVPacket* packet) {
    const int sent = avcodec_send_packet(decoder_.get(), packet);
    if (sent < 0) fail_decode(sent);
    while (true) {
      const int got = avcodec_receive_frame(decoder_.get(), frame_.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      if (got < 0) fail_decode(got);
      if ((frame_->decode_error_flags != 0) || (frame_->flags & AV_FRAME_FLAG_CORRUPT) != 0) {
        fail_decode(AVERROR_INVALIDDATA);
      }
      const auto seam = seam_pts_.find(frames_);
      if (seam != seam_pts_.end()) seam->second = frame_->best_effort_timestamp;
      ++frames_;
      av_frame_unref(frame_.get());
    }
  }

  [[noreturn]] void fail_decode(int error) {
    const std::string logged = libav::take_last_log_message();
    stitch_check_failed(name_of(file_) + " does not decode at " +
                            seconds_text(seconds(video_end_, video()) - video_start_s()) +
                            " (frame " + std::to_string(frames_ + 1) +
                            "): " + (logged.empty() ? libav::error_text(error) : logged) + ".",
                        kRetryHint);
  }

  std::filesystem::path file_;
  libav::InputFormat input_;
  int video_index_ = -1;
  int audio_index_ = -1;
  libav::CodecContext decoder_;
  libav::Frame frame_ = libav::make_frame();
  std::map<long, int64_t> seam_pts_;  // first frame index of each segment -> its pts
  long packets_ = 0;
  long frames_ = 0;
  int64_t video_start_ = std::numeric_limits<int64_t>::max();
  int64_t video_end_ = std::numeric_limits<int64_t>::min();
  int64_t audio_first_ = std::numeric_limits<int64_t>::max();
  int64_t audio_end_ = std::numeric_limits<int64_t>::min();
};

}  // namespace

void stitch_check_failed(std::string message, std::string hint) {
  throw Error("stitch_check_failed", std::move(message), std::move(hint), Permanence::permanent);
}

StitchResult check_stitched(const std::filesystem::path& file, const StitchedLayout& layout) {
  StitchedReader reader(file, layout.first_frames);
  reader.read_all();

  StitchResult result;
  result.frame_s = reader.frame_s();
  result.duration_s = reader.video_duration_s();
  const double tolerance = result.frame_s + kSlack_s;
  if (std::fabs(result.duration_s - layout.expected_duration_s) > tolerance) {
    stitch_check_failed("the stitched video lasts " + seconds_text(result.duration_s) +
                            ", the plan " + seconds_text(layout.expected_duration_s) +
                            " (more than one frame, " + seconds_text(result.frame_s) + ", apart).",
                        kRetryHint);
  }
  if (reader.audio_duration_s() < result.duration_s - tolerance) {
    stitch_check_failed("the stitched audio lasts " + seconds_text(reader.audio_duration_s()) +
                            ", less than the video's " + seconds_text(result.duration_s) + ".",
                        kRetryHint);
  }
  double planned_at = 0;
  for (std::size_t k = 1; k < layout.first_frames.size(); ++k) {
    planned_at += layout.planned_durations_s[k - 1];
    const double frame_at = reader.frame_time_s(layout.first_frames[k]);
    SeamCheck seam;
    seam.after_segment = static_cast<int>(k);
    seam.planned_at_s = planned_at;
    seam.video_at_s = frame_at - reader.video_start_s();
    // The audio track is the original timeline: its sample at planned_at plays at
    // audio_start + planned_at.
    seam.offset_s = frame_at - (reader.audio_start_s() + planned_at);
    if (!(std::fabs(seam.offset_s) <= tolerance)) {
      stitch_check_failed(
          "at the seam after segment " + std::to_string(k) + " the video is " +
              (std::isnan(seam.offset_s)
                   ? std::string("missing its first frame")
                   : seconds_text(seam.offset_s) + " off the audio (segment " +
                         std::to_string(k + 1) + " starts at " + seconds_text(seam.video_at_s) +
                         ", planned at " + seconds_text(planned_at) + ")") +
              "; one frame is " + seconds_text(result.frame_s) + ".",
          kRetryHint);
    }
    result.seams.push_back(seam);
  }
  return result;
}

}  // namespace lipsyncd::media
