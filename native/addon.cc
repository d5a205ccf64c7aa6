#include <napi.h>

Napi::Object init_addon(Napi::Env, Napi::Object exports) {
  return exports;
}

NODE_API_MODULE(execwarden_native, init_addon)
