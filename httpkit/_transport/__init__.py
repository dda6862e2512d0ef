"""Everything httpkit builds on requests and urllib3 by subclassing them.

* :mod:`.adapter`: ``HostAdapter`` and the attempt loop of every hop;
* :mod:`.connection`: one connection and one pool class per scheme;
* :mod:`.errors`: the one table that maps failures below to what the caller sees.
"""
