// Writing the video: a transcode through libavfilter and libx264, or a remux.

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "h264_encoder.hpp"
#include "libav_error.hpp"
#include "libav_handles.hpp"
#include "output_file.hpp"
#include "stream_decoder.hpp"
#include "stream_writers.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace lipsyncd::media {
namespace {

std::string rotation_filters(int rotation) {
  switch (rotation) {
    case 90:
      return "transpose=clock,";
    case 180:
      return "hflip,vflip,";
    case 270:
      return "transpose=cclock,";
    default:
      return "";
  }
}

class VideoTranscoder {
 public:
  VideoTranscoder(const MediaInfo& info, TimeSpan span, const std::filesystem::path& destination,
                  const MediaConfig& config)
      : info_(info),
        span_(span),
        decoder_(info.file, AVMEDIA_TYPE_VIDEO, 0),
        target_(video_target(*info.video, config)),
        output_(destination, "mp4") {
    build_filters();
    const AVRational filtered_time_base = av_buffersink_get_time_base(sink_);
    encoder_.emplace(output_,
                     H264Settings{target_.width, target_.height,
                                  AVRational{target_.fps_num, target_.fps_den}, filtered_time_base},
                     config, info.file);
    output_.write_header(true);
  }

  NormalizedFile run(const std::filesystem::path& destination) {
    if (span_.start_s > 0) decoder_.seek(span_.start_s);
    const AVRational input_tb = decoder_.stream()->time_base;
    const double frame_s = 1.0 / std::max(1.0, info_.video->fps);
    int64_t eof_pts = 0;
    while (AVFrame* frame = decoder_.next_frame()) {
      const double t = decoder_.frame_seconds(frame);
      if (t < span_.start_s - frame_s / 2) continue;
      if (t >= span_.end_s() - frame_s / 2) break;
      frame->pts = std::llround((t - span_.start_s) / av_q2d(input_tb));
      const int64_t duration =
          frame->pkt_duration > 0 ? frame->pkt_duration : std::llround(frame_s / av_q2d(input_tb));
      eof_pts = std::max(eof_pts, frame->pts + duration);
      libav::check(av_buffersrc_add_frame_flags(source_, frame, AV_BUFFERSRC_FLAG_KEEP_REF),
                   "not_decodable", "cannot filter a frame of", info_.file);
      pull_filtered();
    }
    // The end time tells the fps filter how long the last frame lasts.
    eof_pts = std::min<int64_t>(eof_pts, std::llround(span_.duration_s / av_q2d(input_tb)));
    libav::check(av_buffersrc_close(source_, eof_pts, AV_BUFFERSRC_FLAG_PUSH), "not_decodable",
                 "cannot filter", info_.file);
    pull_filtered();
    encoder_->flush();
    output_.finish();
    const double seconds =
        static_cast<double>(encoder_->frames()) * target_.fps_den / target_.fps_num;
    return {destination, seconds, NormalizeMethod::transcode};
  }

 private:
  void build_filters() {
    graph_.reset(avfilter_graph_alloc());
    if (!graph_) throw std::bad_alloc();
    AVCodecContext* codec = decoder_.codec();
    const AVRational tb = decoder_.stream()->time_base;
    const AVRational sar =
        codec->sample_aspect_ratio.num > 0 ? codec->sample_aspect_ratio : AVRational{1, 1};
    const std::string source_args =
        "video_size=" + std::to_string(codec->width) + "x" + std::to_string(codec->height) +
        ":pix_fmt=" + std::to_string(codec->pix_fmt) + ":time_base=" + std::to_string(tb.num) +
        "/" + std::to_string(tb.den) + ":pixel_aspect=" + std::to_string(sar.num) + "/" +
        std::to_string(sar.den);
    libav::check(avfilter_graph_create_filter(&source_, avfilter_get_by_name("buffer"), "in",
                                              source_args.c_str(), nullptr, graph_.get()),
                 "not_decodable", "cannot set up the video filters for", info_.file);
    libav::check(avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out",
                                              nullptr, nullptr, graph_.get()),
                 "not_decodable", "cannot set up the video filters for", info_.file);
    const std::string chain = rotation_filters(info_.video->rotation) +
                              "scale=" + std::to_string(target_.width) + ":" +
                              std::to_string(target_.height) +
                              ":flags=bicubic,setsar=1,fps=" + std::to_string(target_.fps_num) +
                              "/" + std::to_string(target_.fps_den) + ",format=yuv420p";
    libav::FilterInOut outputs(avfilter_inout_alloc());
    libav::FilterInOut inputs(avfilter_inout_alloc());
    if (!outputs || !inputs) throw std::bad_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = source_;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink_;
    AVFilterInOut* raw_inputs = inputs.release();
    AVFilterInOut* raw_outputs = outputs.release();
    const int parsed =
        avfilter_graph_parse_ptr(graph_.get(), chain.c_str(), &raw_inputs, &raw_outputs, nullptr);
    inputs.reset(raw_inputs);
    outputs.reset(raw_outputs);
    libav::check(parsed, "not_decodable", "cannot set up the video filters for", info_.file);
    libav::check(avfilter_graph_config(graph_.get(), nullptr), "not_decodable",
                 "cannot set up the video filters for", info_.file);
  }

  void pull_filtered() {
    while (true) {
      const int got = av_buffersink_get_frame(sink_, filtered_.get());
      if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
      libav::check(got, "not_decodable", "cannot filter", info_.file);
      encoder_->encode(filtered_.get());
      av_frame_unref(filtered_.get());
    }
  }

  const MediaInfo& info_;
  TimeSpan span_;
  StreamDecoder decoder_;
  VideoTarget target_;
  OutputFile output_;
  libav::FilterGraph graph_;
  AVFilterContext* source_ = nullptr;   // owned by graph_
  AVFilterContext* sink_ = nullptr;     // owned by graph_
  std::optional<H264Encoder> encoder_;  // made once the filters tell its time base
  libav::Frame filtered_ = libav::make_frame();
};

}  // namespace

NormalizedFile transcode_video(const MediaInfo& info, TimeSpan span,
                               const std::filesystem::path& destination,
                               const MediaConfig& config) {
  VideoTranscoder transcoder(info, span, destination, config);
  return transcoder.run(destination);
}

NormalizedFile remux_video(const MediaInfo& info, const std::filesystem::path& destination,
                           TimeSpan span) {
  libav::InputFormat input = open_input(info.file);
  const int index = shown_video_stream(input.get());
  libav::check(index < 0 ? AVERROR_STREAM_NOT_FOUND : index, "no_video_stream",
               "no video stream in", info.file);
  AVStream* in_stream = input->streams[index];
  OutputFile output(destination, "mp4");
  AVStream* out_stream = output.add_stream();
  libav::check(avcodec_parameters_copy(out_stream->codecpar, in_stream->codecpar), "disk_error",
               "cannot prepare", info.file);
  out_stream->codecpar->codec_tag = 0;  // the MP4 muxer picks its own tag (avc1)
  out_stream->time_base = in_stream->time_base;
  out_stream->avg_frame_rate = in_stream->avg_frame_rate;
  output.write_header(true);

  // A span is cut at its keyframes (the caller checked): packets are chosen by presentation
  // time, which for closed GOPs (x264's default) takes whole GOPs, and shifted to start at 0.
  const AVRational tb = in_stream->time_base;
  const double fps = info.video->fps > 0 ? info.video->fps : 30;
  const int64_t stream_start = in_stream->start_time == AV_NOPTS_VALUE ? 0 : in_stream->start_time;
  const int64_t half_frame = std::max<int64_t>(1, std::llround(0.5 / fps / av_q2d(tb)));
  const bool whole = span.duration_s <= 0;
  const int64_t first = whole ? INT64_MIN : stream_start + std::llround(span.start_s / av_q2d(tb));
  const int64_t last = whole ? INT64_MAX : stream_start + std::llround(span.end_s() / av_q2d(tb));
  const int64_t shift = whole ? 0 : first - stream_start;
  if (!whole && span.start_s > 0) {
    libav::check(av_seek_frame(input.get(), index, first, AVSEEK_FLAG_BACKWARD), "not_decodable",
                 "cannot seek in", info.file);
  }
  int64_t end_pts = INT64_MIN;
  libav::Packet packet = libav::make_packet();
  while (true) {
    const int read = av_read_frame(input.get(), packet.get());
    if (read == AVERROR_EOF) break;
    libav::check(read, "not_decodable", "cannot read", info.file);
    const bool inside = packet->stream_index == index &&
                        (whole || packet->pts == AV_NOPTS_VALUE ||
                         (packet->pts >= first - half_frame && packet->pts < last - half_frame));
    if (inside) {
      if (packet->pts != AV_NOPTS_VALUE) {
        end_pts = std::max(end_pts, packet->pts + packet->duration);
        packet->pts -= shift;
      }
      if (packet->dts != AV_NOPTS_VALUE) packet->dts -= shift;
      av_packet_rescale_ts(packet.get(), tb, out_stream->time_base);
      packet->stream_index = out_stream->index;
      packet->pos = -1;
      output.write(packet.get());
    }
    av_packet_unref(packet.get());
  }
  output.finish();
  const double duration_s =
      whole ? info.video->duration_s : static_cast<double>(end_pts - first) * av_q2d(tb);
  return {destination, duration_s, NormalizeMethod::remux};
}

}  // namespace lipsyncd::media
