// Extending a normalized video to the length of a longer audio, the way the whole pair's sync
// mode says (loop, bounce, silence), re-encoded once with the normalizer's x264 settings.

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/imgutils.h>
}

#include "h264_encoder.hpp"
#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/media/segment_media.hpp"
#include "output_file.hpp"
#include "stream_decoder.hpp"

namespace lipsyncd::media {
namespace {

// One GOP's decoded pictures is what bounce keeps in memory; beyond this it refuses.
constexpr std::size_t kMaxGopBytes = std::size_t{1} << 30;

class VideoExtender {
 public:
  VideoExtender(const MediaInfo& info, double length_s, const std::filesystem::path& destination,
                const MediaConfig& config)
      : info_(info),
        decoder_(info.file, AVMEDIA_TYPE_VIDEO, 0),
        target_(video_target(*info.video, config)),
        frames_wanted_(std::llround(length_s * target_.fps_num / target_.fps_den)),
        output_(destination, "mp4"),
        encoder_(output_,
                 H264Settings{target_.width,
                              target_.height,
                              {target_.fps_num, target_.fps_den},
                              {target_.fps_den, target_.fps_num}},
                 config, info.file),
        converter_(target_.width, target_.height) {
    output_.write_header(true);
  }

  NormalizedFile run(SyncMode mode, const std::filesystem::path& destination) {
    switch (mode) {
      case SyncMode::loop:
        while (!done()) play_forward();
        break;
      case SyncMode::bounce:
        play_forward();
        while (!done()) {
          const long before = emitted_;
          play_backward();
          if (!done()) play_forward();
          if (emitted_ == before) hold_last_frame();  // a one-frame clip has nowhere to turn
        }
        break;
      case SyncMode::silence:
        play_forward();
        hold_last_frame();
        break;
      default:
        throw std::invalid_argument("extend_video: no extension for sync mode " +
                                    std::string(to_string(mode)));
    }
    encoder_.flush();
    output_.finish();
    const double seconds =
        static_cast<double>(encoder_.frames()) * target_.fps_den / target_.fps_num;
    return {destination, seconds, NormalizeMethod::transcode};
  }

 private:
  bool done() const { return emitted_ >= frames_wanted_; }

  long frame_index(const AVFrame* frame) const {
    return std::lround(decoder_.frame_seconds(frame) * target_.fps_num / target_.fps_den);
  }

  void emit(AVFrame* frame) {
    if (done()) return;
    AVFrame* picture = converter_.convert(frame, info_.file);
    picture->pts = emitted_++;
    encoder_.encode(picture);
  }

  // The clip from its start to its end.
  void play_forward() {
    decoder_.seek(0);
    long shown = 0;
    while (AVFrame* frame = decoder_.next_frame()) {
      if (done()) return;
      const long index = frame_index(frame);
      clip_frames_ = std::max(clip_frames_, index + 1);
      av_frame_unref(last_.get());
      libav::check(av_frame_ref(last_.get(), frame), "not_decodable", "cannot keep a frame of",
                   info_.file);
      emit(frame);
      ++shown;
    }
    if (shown == 0) {
      throw Error("not_decodable",
                  "no frame of " + info_.file.filename().string() + " could be decoded.");
    }
  }

  // The clip from its second-to-last frame back to its second (the forward passes show the
  // turning frames once), one GOP at a time: seek to the GOP's keyframe, decode up to the next
  // keyframe, show those pictures in reverse.
  void play_backward() {
    if (keyframes_.empty()) keyframes_ = keyframe_presentation_seconds(info_.file);
    if (keyframes_.empty()) keyframes_.push_back(0);
    const std::vector<double>& keyframes = keyframes_;
    const double half_frame = 0.5 * target_.fps_den / target_.fps_num;
    for (std::size_t gop = keyframes.size(); gop-- > 0 && !done();) {
      const double begin = keyframes[gop] - half_frame;
      const double end = gop + 1 < keyframes.size() ? keyframes[gop + 1] - half_frame : 1e300;
      std::vector<libav::Frame> pictures;
      std::size_t bytes = 0;
      decoder_.seek(keyframes[gop]);
      while (AVFrame* frame = decoder_.next_frame()) {
        const double t = decoder_.frame_seconds(frame);
        if (t >= end) break;
        const long index = frame_index(frame);
        if (t < begin || index == 0 || index >= clip_frames_ - 1) continue;
        bytes += static_cast<std::size_t>(av_image_get_buffer_size(
            static_cast<AVPixelFormat>(frame->format), frame->width, frame->height, 1));
        if (bytes > kMaxGopBytes) refuse_gop(keyframes[gop]);
        pictures.emplace_back(av_frame_clone(frame));
        if (!pictures.back()) throw std::bad_alloc();
      }
      for (auto picture = pictures.rbegin(); picture != pictures.rend() && !done(); ++picture) {
        emit(picture->get());
      }
    }
  }

  [[noreturn]] void refuse_gop(double keyframe_s) const {
    throw Error("bounce_gop_too_long",
                "bounce cannot play " + info_.file.filename().string() +
                    " backwards: the keyframes from " + std::to_string(keyframe_s) +
                    " s on are too far apart to hold one GOP's pictures in memory.",
                "normalize the video again (its keyframes come every few seconds) or use "
                "sync_mode loop");
  }

  void hold_last_frame() {
    if (last_->data[0] == nullptr) return;
    while (!done()) emit(last_.get());
  }

  const MediaInfo& info_;
  StreamDecoder decoder_;
  VideoTarget target_;
  long frames_wanted_;
  OutputFile output_;
  H264Encoder encoder_;
  PictureConverter converter_;
  libav::Frame last_ = libav::make_frame();  // the latest frame shown forward (silence holds it)
  long emitted_ = 0;
  long clip_frames_ = 0;
  std::vector<double> keyframes_;  // presentation times; read on the first backward pass
};

}  // namespace

NormalizedFile extend_video(const MediaInfo& info, SyncMode mode, double length_s,
                            const std::filesystem::path& destination, const MediaConfig& config) {
  libav::initialize();
  if (!info.video) {
    throw Error("no_video_stream", info.file.filename().string() + " has no video stream.");
  }
  if (mode != SyncMode::loop && mode != SyncMode::bounce && mode != SyncMode::silence) {
    throw std::invalid_argument("extend_video: no extension for sync mode " +
                                std::string(to_string(mode)));
  }
  if (!(length_s > 0)) throw std::invalid_argument("extend_video: length must be positive");
  VideoExtender extender(info, length_s, destination, config);
  return extender.run(mode, destination);
}

}  // namespace lipsyncd::media
