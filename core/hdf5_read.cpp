// Hdf5File: a dataset's shape and type, and reading it whole, by rows or by hyperslab.
#include <hdf5.h>

#include <new>
#include <stdexcept>

#include "core/error.h"
#include "core/hdf5_file.h"
#include "core/hdf5_internal.h"

namespace shardlab {

using namespace hdf5_internal;

template <typename T>
Hdf5Array<T> Hdf5File::Impl::read(const std::string& dataset, const std::vector<int64_t>* start,
                                  const std::vector<int64_t>* count) const {
  const std::string name = normalized(dataset);
  Id handle = open_dataset(name);
  Id file_space(H5Dget_space(handle.get()));
  if (!file_space.ok()) fail("cannot read the shape of dataset " + quoted(name));
  if (H5Sget_simple_extent_type(file_space.get()) == H5S_NULL)
    fail("dataset " + quoted(name) + " has a null dataspace (no values)", false);
  const std::vector<int64_t> dims = dimensions(file_space.get());

  Hdf5Array<T> out;
  if (start != nullptr) {
    bool fits = start->size() == dims.size() && count->size() == dims.size();
    for (size_t i = 0; fits && i < dims.size(); ++i)
      fits = (*start)[i] >= 0 && (*count)[i] >= 0 && (*start)[i] + (*count)[i] <= dims[i];
    if (!fits)
      fail("dataset " + quoted(name) + " has shape " + format_shape(dims) + ", cannot read the slab at " +
               format_shape(*start) + " of shape " + format_shape(*count),
           false);
    out.shape = *count;
  } else {
    out.shape = dims;
  }
  const int64_t n = element_count(out.shape);
  if (n < 0) fail("dataset " + quoted(name) + " has an impossible shape " + format_shape(out.shape), false);
  try {
    out.data.resize(static_cast<size_t>(n));
  } catch (const std::bad_alloc&) {
    fail("dataset " + quoted(name) + " of shape " + format_shape(out.shape) + " is too large to read into memory",
         false);
  } catch (const std::length_error&) {
    fail("dataset " + quoted(name) + " of shape " + format_shape(out.shape) + " is too large to read into memory",
         false);
  }
  if (n == 0) return out;

  if (start != nullptr && !dims.empty()) {
    std::vector<hsize_t> s(start->begin(), start->end()), c(count->begin(), count->end());
    if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, s.data(), nullptr, c.data(), nullptr) < 0)
      fail("cannot select a slab of dataset " + quoted(name));
  }
  // Shaped like the selection (see Impl::append in hdf5_write.cpp).
  std::vector<hsize_t> memory_dims(out.shape.begin(), out.shape.end());
  Id memory_space(memory_dims.empty()
                      ? H5Screate(H5S_SCALAR)
                      : H5Screate_simple(static_cast<int>(memory_dims.size()), memory_dims.data(), nullptr));
  Id file_type(H5Dget_type(handle.get()));
  switch (H5Tget_class(file_type.get())) {
    case H5T_INTEGER:
    case H5T_FLOAT:
      if (H5Dread(handle.get(), memory_type<T>(), memory_space.get(), file_space.get(), H5P_DEFAULT,
                  out.data.data()) < 0)
        fail("cannot read dataset " + quoted(name));
      break;
    case H5T_ENUM: {
      // HDF5 converts enums only to enums; read the enum's integers and convert them here.
      Id native(H5Tget_native_type(file_type.get(), H5T_DIR_ASCEND));
      Id base(H5Tget_super(native.get()));
      const size_t size = H5Tget_size(base.get());
      const bool is_signed = H5Tget_sign(base.get()) != H5T_SGN_NONE;
      std::vector<unsigned char> raw;
      try {
        raw.resize(static_cast<size_t>(n) * size);
      } catch (const std::bad_alloc&) {
        fail("dataset " + quoted(name) + " is too large to read into memory", false);
      }
      if (H5Dread(handle.get(), native.get(), memory_space.get(), file_space.get(), H5P_DEFAULT, raw.data()) < 0)
        fail("cannot read dataset " + quoted(name));
      for (int64_t i = 0; i < n; ++i) {
        const unsigned char* p = raw.data() + i * size;
        out.data[i] = is_signed ? static_cast<T>(load_signed(p, size)) : static_cast<T>(load_unsigned(p, size));
      }
      break;
    }
    default:
      fail("dataset " + quoted(name) + " has dtype " + type_name(file_type.get()) + ", not numbers", false);
  }
  return out;
}

Hdf5DatasetInfo Hdf5File::dataset_info(const std::string& dataset) const {
  quiet();
  const Impl& m = impl();
  Id handle = m.open_dataset(dataset);
  Id space(H5Dget_space(handle.get()));
  Id type(H5Dget_type(handle.get()));
  if (!space.ok() || !type.ok()) m.fail("cannot read the shape and type of dataset " + quoted(normalized(dataset)));
  Hdf5DatasetInfo info;
  info.shape = dimensions(space.get());
  info.dtype = type_name(type.get());
  info.element_class = class_of(type.get());
  return info;
}

template <typename T>
Hdf5Array<T> Hdf5File::read(const std::string& dataset) const {
  quiet();
  return impl().read<T>(dataset, nullptr, nullptr);
}

template <typename T>
Hdf5Array<T> Hdf5File::read_rows(const std::string& dataset, int64_t begin, int64_t count) const {
  quiet();
  const Hdf5DatasetInfo info = dataset_info(dataset);
  if (info.shape.empty()) impl().fail("dataset " + quoted(normalized(dataset)) + " is scalar, it has no rows", false);
  std::vector<int64_t> start(info.shape.size(), 0), counts(info.shape);
  start[0] = begin;
  counts[0] = count;
  return impl().read<T>(dataset, &start, &counts);
}

template <typename T>
Hdf5Array<T> Hdf5File::read_slab(const std::string& dataset, const std::vector<int64_t>& start,
                                 const std::vector<int64_t>& count) const {
  quiet();
  return impl().read<T>(dataset, &start, &count);
}

#define SHARDLAB_HDF5_ELEMENT(T)                                                                \
  template Hdf5Array<T> Hdf5File::read<T>(const std::string&) const;                            \
  template Hdf5Array<T> Hdf5File::read_rows<T>(const std::string&, int64_t, int64_t) const;     \
  template Hdf5Array<T> Hdf5File::read_slab<T>(const std::string&, const std::vector<int64_t>&, \
                                               const std::vector<int64_t>&) const;
SHARDLAB_HDF5_ELEMENT(float)
SHARDLAB_HDF5_ELEMENT(double)
SHARDLAB_HDF5_ELEMENT(int8_t)
SHARDLAB_HDF5_ELEMENT(uint8_t)
SHARDLAB_HDF5_ELEMENT(int32_t)
SHARDLAB_HDF5_ELEMENT(int64_t)
#undef SHARDLAB_HDF5_ELEMENT

}  // namespace shardlab
