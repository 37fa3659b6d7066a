#include "h264_encoder.hpp"

#include <new>
#include <string>

#include "libav_error.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd::media {

H264Encoder::H264Encoder(OutputFile& output, const H264Settings& settings,
                         const MediaConfig& config, const std::filesystem::path& source)
    : output_(output), source_(source) {
  const AVCodec* x264 = find_encoder("libx264");
  encoder_.reset(avcodec_alloc_context3(x264));
  if (!encoder_) throw std::bad_alloc();
  encoder_->width = settings.width;
  encoder_->height = settings.height;
  encoder_->pix_fmt = AV_PIX_FMT_YUV420P;
  encoder_->sample_aspect_ratio = {1, 1};
  encoder_->framerate = settings.frame_rate;
  encoder_->time_base = settings.time_base;
  encoder_->thread_count = 0;
  if ((output_.context()->oformat->flags & AVFMT_GLOBALHEADER) != 0) {
    encoder_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  }
  AVDictionary* options = nullptr;
  av_dict_set(&options, "preset", config.x264_preset.c_str(), 0);
  av_dict_set(&options, "crf", std::to_string(config.x264_crf).c_str(), 0);
  const int opened = avcodec_open2(encoder_.get(), x264, &options);
  av_dict_free(&options);
  libav::check(opened, "encoder_missing", "cannot open the H.264 encoder for", source_,
               "check [media] x264_preset and x264_crf");
  stream_ = output_.add_stream();
  libav::check(avcodec_parameters_from_context(stream_->codecpar, encoder_.get()), "disk_error",
               "cannot prepare", source_);
  stream_->time_base = encoder_->time_base;
  stream_->avg_frame_rate = encoder_->framerate;
}

void H264Encoder::encode(AVFrame* frame) {
  frame->pict_type = AV_PICTURE_TYPE_NONE;
  send(frame);
  ++frames_;
}

void H264Encoder::flush() {
  send(nullptr);
}

void H264Encoder::send(const AVFrame* frame) {
  libav::check(avcodec_send_frame(encoder_.get(), frame), "not_decodable", "cannot encode",
               source_);
  while (true) {
    const int got = avcodec_receive_packet(encoder_.get(), packet_.get());
    if (got == AVERROR(EAGAIN) || got == AVERROR_EOF) return;
    libav::check(got, "not_decodable", "cannot encode", source_);
    av_packet_rescale_ts(packet_.get(), encoder_->time_base, stream_->time_base);
    packet_->stream_index = stream_->index;
    if (sink_) {
      sink_(packet_.get());
    } else {
      output_.write(packet_.get());
    }
    av_packet_unref(packet_.get());
  }
}

AVFrame* PictureConverter::convert(AVFrame* frame, const std::filesystem::path& source) {
  if (frame->format == AV_PIX_FMT_YUV420P && frame->width == width_ && frame->height == height_) {
    return frame;
  }
  scaler_.reset(sws_getCachedContext(scaler_.release(), frame->width, frame->height,
                                     static_cast<AVPixelFormat>(frame->format), width_, height_,
                                     AV_PIX_FMT_YUV420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!scaler_) {
    throw Error("not_decodable", "cannot scale the pictures of " + source.filename().string() + ".",
                "re-export the file as H.264 yuv420p");
  }
  av_frame_unref(converted_.get());
  converted_->format = AV_PIX_FMT_YUV420P;
  converted_->width = width_;
  converted_->height = height_;
  libav::check(av_frame_get_buffer(converted_.get(), 0), "not_decodable", "cannot scale", source);
  sws_scale(scaler_.get(), frame->data, frame->linesize, 0, frame->height, converted_->data,
            converted_->linesize);
  converted_->pts = frame->pts;
  return converted_.get();
}

}  // namespace lipsyncd::media
