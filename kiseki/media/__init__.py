"""Rich media logged with ``log()``: images, histograms and tables.

>>> import kiseki
>>> kiseki.Histogram([1.0, 2.0, 2.5, 3.0], num_bins=2).values
[1, 3]

Media objects become JSON references in a run's history (``{"_type": "image-file",
"digest": ..., ...}``); their bytes go to the content-addressed blob store first. The read API
turns those references back into :class:`Image`, :class:`Histogram` and :class:`Table`
objects. NumPy, Pillow and pandas are imported only when media are made or read.
"""

from kiseki.media.histogram import Histogram
from kiseki.media.image import Image
from kiseki.media.table import Table

__all__ = ["Histogram", "Image", "Table"]
