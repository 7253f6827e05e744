"""Typed clients of camvault's services: every ``/v1`` URL the clients use is here.

- :mod:`clients.api.storage`: :class:`~clients.api.storage.StorageApi` (the storage service,
  signed as a customer, device or operator) and the presigned object-store transfers;
- :mod:`clients.api.escrow`: :class:`~clients.api.escrow.CustodianApi` (a key custodian:
  public keys, statements, releases, notices and its transparency log);
- :mod:`clients.api.sse`: the server-sent event streams (customer inbox, alarm feed);
- :mod:`clients.api.errors`: :class:`~clients.api.errors.ServiceRefused`, the one error a
  refusal raises, with the service's reason code.
"""
