"""NXP PN532 model (UM0701 v1.6): the chip core and its three host interfaces.

    clock, field = VirtualClock(), Field()
    chip = PN532(clock, field)                  # hw_sim.pn532_chip
    wiring.attach_uart(1, PN532UART(chip))      # or PN532I2C(chip), PN532SPI(chip)
    wiring.drive_pin(irq_pin, chip.irq_level)

Parts: ``pn532_frames`` (frame codec and stream sync), ``pn532_chip`` (commands,
timing, output queue), ``pn532_rf`` (type A initiator and ISO-DEP over the
``hw_sim.iso14443.Field``), ``pn532_transports`` (UART / I2C / SPI).

Timing (virtual microseconds, counted from the end of the command frame; the
model never sleeps, a frame just becomes visible once ``clock.now_us()``
reaches its time):

=======================================  =========================================
ACK                                       200
answer of a command without RF traffic    1000
RF traffic, added to the 1000             85 per byte each way (106 kbit/s,
                                          9 bits/byte) + the card's answer delay:
                                          86 layer 3, 300 per ISO-DEP block,
                                          ``Card14443.apdu_us`` (2000) per APDU
carrier switched on / RF reset            2000 / 3000
frame nobody answers                      REQA 1000 per activation attempt;
                                          SELECT/anticollision 1000; ATS 4833;
                                          ISO-DEP FWT = 302 * 2^FWI (ATS TB1) per
                                          try, 3 tries (R(NAK) x2); InCommunicate-
                                          Thru 100 * 2^(n-1), n = RFConfiguration
                                          item 2 byte 3 (default 0x0A: 51200)
InListPassiveTarget, no card,             1000 + (n + 1) x 1000 (+ carrier on),
MxRtyPassiveActivation n < 0xFF           then ``4B 00``
... n = 0xFF (power-on default)           ACK only; answered 1000 + activation
                                          time after a card is placed
NACK: last response again                 200
=======================================  =========================================

Behaviour choices where UM0701 is silent are listed in ``pn532_rf``
(RF reset before a repeat poll, anticollision, two targets) and below:

* A frame with a bad LCS or DCS gets no ACK and no answer. A good frame with
  an unknown command, TFI other than D4, or malformed parameters is ACKed and
  answered with the syntax error frame ``00 00 FF 01 FF 7F 81 00``; so is a
  frame longer than 265 bytes (TFI..PDn), without ACK.
* A host ACK, or any new command frame, aborts the command in progress and
  drops frames not yet read. The ACK after SetSerialBaudrate's answer is
  where the new baud rate takes effect.
* Unread DataIn beyond 262 bytes is returned with Status bit 6 (MI); the host
  fetches the rest with ``D4 40 Tg``. Host-side chaining (Tg bit 6) is
  collected and sent to the card as one APDU with the final part.
* PowerDown switches the carrier off (cards lose power and state); any frame
  wakes the chip.
"""

from hw_sim.pn532_chip import PN532
from hw_sim.pn532_transports import PN532I2C, PN532SPI, PN532UART

__all__ = ["PN532", "PN532I2C", "PN532SPI", "PN532UART"]
